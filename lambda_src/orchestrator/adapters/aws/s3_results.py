"""The run agent's result object (orchestrator.agent.layout.RESULT_NAME), read from S3 by
the task-events function and the reaper once a task has stopped.

It lists before it gets: without s3:ListBucket, S3 answers a GET of a missing key with
403, and a missing result ("the agent stopped before reporting") must not look like a
missing permission. Any S3 error is raised (the event is retried, then dead-lettered),
never taken for "no result". A result that is not what layout describes is logged and
read as no result."""

from __future__ import annotations

import json
import logging
from typing import Any

from orchestrator.agent.layout import RESULT_NAME, RESULT_VERSION
from orchestrator.domain.models import RunResult
from orchestrator.output_segments import output_prefix

MAX_RESULT_BYTES = 64 * 1024
_log = logging.getLogger(__name__)


class ResultInvalid(ValueError):
    """The result object is not what orchestrator.agent.layout describes."""


def result_key(execution_id: str) -> str:
    return output_prefix(execution_id) + RESULT_NAME


def parse_result(raw: bytes) -> RunResult:
    """The result in `raw`; ResultInvalid for anything else."""
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise ResultInvalid("the result is not JSON") from error
    if not isinstance(document, dict) or document.get("v") != RESULT_VERSION:
        raise ResultInvalid(f"the result is not version {RESULT_VERSION}")
    numbers = {name: document.get(name) for name in ("exit_code", "truncated_at")}
    for name, number in numbers.items():
        if number is not None and (not isinstance(number, int) or isinstance(number, bool)):
            raise ResultInvalid(f"the result's {name} must be an integer or null")
    texts = {name: document.get(name) for name in ("git_commit", "failure", "exit_unknown")}
    for name, text in texts.items():
        if text is not None and not isinstance(text, str):
            raise ResultInvalid(f"the result's {name} must be a string or null")
    return RunResult(
        exit_code=numbers["exit_code"],
        git_commit=texts["git_commit"] or None,
        failure=texts["failure"] or None,
        truncated_at=numbers["truncated_at"],
        exit_unknown=texts["exit_unknown"] or None,
    )


class S3RunResults:
    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def result_of(self, execution_id: str) -> RunResult | None:
        key = result_key(execution_id)
        listing = self._s3.list_objects_v2(Bucket=self._bucket, Prefix=key, MaxKeys=1)
        if not any(item.get("Key") == key for item in listing.get("Contents", [])):
            return None
        answer = self._s3.get_object(Bucket=self._bucket, Key=key)
        with answer["Body"] as body:
            raw: bytes = body.read(MAX_RESULT_BYTES + 1)
        try:
            if len(raw) > MAX_RESULT_BYTES:
                raise ResultInvalid(f"the result is larger than {MAX_RESULT_BYTES} bytes")
            return parse_result(raw)
        except ResultInvalid as error:
            _log.warning("unreadable result of %s: %s", execution_id, error)
            return None
