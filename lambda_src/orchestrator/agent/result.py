"""The agent's report of a run (layout.RESULT_NAME under the run's output prefix): the
command's exit code, the commit checked out, why the run failed without its command's
own exit, where the output was cut. Written by the agent; read by the task-events
function. Standard library only."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from orchestrator.agent.layout import RESULT_NAME, RESULT_VERSION

MAX_RESULT_BYTES = 64 * 1024
MAX_FAILURE_CHARS = 1000


class ResultInvalid(ValueError):
    """The object is not a result of this version."""


@dataclass(frozen=True)
class RunResult:
    exit_code: int | None = None
    git_commit: str | None = None
    failure: str | None = None
    truncated_at: int | None = None

    def to_json(self) -> bytes:
        failure = self.failure
        if failure is not None and len(failure) > MAX_FAILURE_CHARS:
            failure = failure[: MAX_FAILURE_CHARS - 3] + "..."
        return json.dumps(
            {
                "v": RESULT_VERSION,
                "exit_code": self.exit_code,
                "git_commit": self.git_commit,
                "failure": failure,
                "truncated_at": self.truncated_at,
            }
        ).encode()


def result_key(output_prefix: str) -> str:
    return output_prefix + RESULT_NAME


def _optional(document: dict[str, Any], name: str, kind: type) -> Any:
    value = document.get(name)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise ResultInvalid(f"result field {name!r} must be a {kind.__name__} or null")
    return value


def parse_result(raw: bytes) -> RunResult:
    """The result in `raw`; ResultInvalid for anything else."""
    if len(raw) > MAX_RESULT_BYTES:
        raise ResultInvalid("the result is too large")
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise ResultInvalid(f"the result is not JSON: {error}") from error
    if not isinstance(document, dict) or document.get("v") != RESULT_VERSION:
        raise ResultInvalid(f"the result is not version {RESULT_VERSION}")
    return RunResult(
        exit_code=_optional(document, "exit_code", int),
        git_commit=_optional(document, "git_commit", str),
        failure=_optional(document, "failure", str),
        truncated_at=_optional(document, "truncated_at", int),
    )
