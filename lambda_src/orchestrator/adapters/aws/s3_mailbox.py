"""Warm tasks' mailboxes (docs/warm-runners.md): the S3 object `warm/<task id>/assignment`
in the CodeBucket, read by the task's agent through a presigned GET
(orchestrator.agent.mailbox). Each has two writes, in order: the pool manager's `waiting`
before RunTask, then at most one assignment, by the claimer that won the task. Their URLs
are signed as the mailbox signer (mailbox_signer.py)."""

from __future__ import annotations

import json
from typing import Any

from orchestrator.agent.mailbox import MAILBOX_VERSION, WAITING


def mailbox_key(task_id: str) -> str:
    return f"warm/{task_id}/assignment"


class S3Mailboxes:
    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def write_waiting(self, key: str) -> None:
        self._put(key, {"v": MAILBOX_VERSION, "state": WAITING})

    def assign(self, key: str, execution_id: str, manifest_url: str) -> None:
        """The run for the task (ClientError, BotoCoreError when S3 refuses it)."""
        self._put(
            key, {"v": MAILBOX_VERSION, "execution_id": execution_id, "manifest_url": manifest_url}
        )

    def _put(self, key: str, document: dict[str, object]) -> None:
        self._s3.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=json.dumps(document).encode(),
            ContentType="application/json",
            CacheControl="no-store",
        )
