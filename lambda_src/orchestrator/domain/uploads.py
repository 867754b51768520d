"""Code uploads: a slot to PUT an archive to, and the checks an execution's upload passes
before anything runs (the caller's own, completed, not expired, not too large)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from orchestrator.domain.errors import NotFound, TooLarge, ValidationFailed
from orchestrator.domain.models import Caller, Upload, UploadSlot, parse_iso
from orchestrator.ports import Clock, UploadStore

DEFAULT_MAX_UPLOAD_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class UploadPolicy:
    max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    slot_lifetime: timedelta = timedelta(minutes=15)
    retention: timedelta = timedelta(days=7)


class UploadService:
    def __init__(
        self, store: UploadStore, clock: Clock, policy: UploadPolicy | None = None
    ) -> None:
        self._store = store
        self._clock = clock
        self._policy = policy or UploadPolicy()

    @property
    def policy(self) -> UploadPolicy:
        return self._policy

    def open_slot(self, caller: Caller) -> UploadSlot:
        expires_at = self._clock.now() + self._policy.slot_lifetime
        return self._store.open_slot(
            uuid.uuid4().hex, caller.email, expires_at, self._policy.max_bytes
        )

    def require(self, caller: Caller, upload_id: str) -> Upload:
        """The caller's completed upload, or a 4xx error that says what is wrong with it."""
        upload = self._store.find(caller.email, upload_id)
        if upload is None:
            raise NotFound(
                f"upload {upload_id} not found: it is not yours, was never completed, "
                "or has expired",
                {"upload_id": upload_id},
            )
        if parse_iso(upload.completed_at) + self._policy.retention <= self._clock.now():
            raise ValidationFailed(f"upload {upload_id} has expired", {"upload_id": upload_id})
        if upload.size > self._policy.max_bytes:
            raise TooLarge(
                f"upload {upload_id} is {upload.size} bytes, over the limit of "
                f"{self._policy.max_bytes}",
                {"upload_id": upload_id, "max_bytes": self._policy.max_bytes},
            )
        return upload
