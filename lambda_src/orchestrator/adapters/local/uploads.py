"""Uploads on one machine: slots recorded in SQLite, archives as files in the data directory,
received by the local server at /upload-slots/<id>?token=… and removed after 7 days."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from datetime import datetime
from pathlib import Path
from typing import Protocol

from orchestrator.adapters.local.database import Database
from orchestrator.adapters.local.private import private_dir, private_file
from orchestrator.domain.errors import Conflict, NotFound, TooLarge, ValidationFailed
from orchestrator.domain.models import Upload, UploadSlot, utc_iso

SLOT_PATH = "/upload-slots/"


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


CONTENT_TYPE = "application/gzip"
CHUNK = 1024 * 1024


class LocalUploadStore:
    def __init__(self, db: Database, directory: Path, base_url: str = "") -> None:
        self._db = db
        self._directory = directory
        self.base_url = base_url  # set once the server knows its address
        private_dir(directory)

    def open_slot(
        self, upload_id: str, user_email: str, expires_at: datetime, max_bytes: int
    ) -> UploadSlot:
        token = secrets.token_urlsafe(24)
        self._db.connection().execute(
            "INSERT INTO uploads (upload_id, user_email, token_hash, expires_at, max_bytes)"
            " VALUES (?, ?, ?, ?, ?)",
            (upload_id, user_email, _hash(token), utc_iso(expires_at), max_bytes),
        )
        return UploadSlot(
            upload_id=upload_id,
            url=f"{self.base_url}{SLOT_PATH}{upload_id}?token={token}",
            method="PUT",
            headers={"Content-Type": CONTENT_TYPE},
            expires_at=utc_iso(expires_at),
            max_bytes=max_bytes,
        )

    def find(self, user_email: str, upload_id: str) -> Upload | None:
        row = (
            self._db.connection()
            .execute(
                "SELECT * FROM uploads WHERE upload_id = ? AND user_email = ?"
                " AND completed_at IS NOT NULL",
                (upload_id, user_email),
            )
            .fetchone()
        )
        path = self._path(upload_id)
        if row is None or not path.exists():
            return None
        return Upload(
            upload_id=upload_id,
            user_email=user_email,
            location=str(path),
            size=row["size"],
            completed_at=row["completed_at"],
        )

    def receive(
        self, upload_id: str, token: str, body: Readable, length: int, now: datetime
    ) -> Upload:
        """Store the PUT body of a slot: the token must match, the slot be open and unused,
        the body within the slot's size. Nothing is kept of a refused or broken transfer."""
        row = (
            self._db.connection()
            .execute("SELECT * FROM uploads WHERE upload_id = ?", (upload_id,))
            .fetchone()
        )
        if row is None or not hmac.compare_digest(row["token_hash"], _hash(token)):
            raise NotFound("no such upload slot")
        if row["completed_at"] is not None:
            raise Conflict(f"upload {upload_id} was already received")
        if row["expires_at"] <= utc_iso(now):
            raise ValidationFailed(f"the slot of upload {upload_id} has expired")
        if length > row["max_bytes"]:
            raise TooLarge(f"the upload is {length} bytes, over the limit of {row['max_bytes']}")
        partial = self._directory / f".{upload_id}.partial"
        try:
            with private_file(partial, "wb") as out:
                remaining = length
                while remaining:
                    chunk = body.read(min(CHUNK, remaining))
                    if not chunk:
                        raise ValidationFailed("the upload ended before its Content-Length")
                    out.write(chunk)
                    remaining -= len(chunk)
                out.flush()
                os.fsync(out.fileno())
            partial.replace(self._path(upload_id))
        finally:
            partial.unlink(missing_ok=True)
        completed_at = utc_iso(now)
        self._db.connection().execute(
            "UPDATE uploads SET size = ?, completed_at = ? WHERE upload_id = ?",
            (length, completed_at, upload_id),
        )
        return Upload(
            upload_id, row["user_email"], str(self._path(upload_id)), length, completed_at
        )

    def purge(self, completed_before: datetime, now: datetime) -> int:
        """Forget archives older than the retention, and slots that expired unused."""
        rows = (
            self._db.connection()
            .execute(
                "SELECT upload_id FROM uploads WHERE completed_at < ?"
                " OR (completed_at IS NULL AND expires_at < ?)",
                (utc_iso(completed_before), utc_iso(now)),
            )
            .fetchall()
        )
        for row in rows:
            self._path(row["upload_id"]).unlink(missing_ok=True)
            self._db.connection().execute(
                "DELETE FROM uploads WHERE upload_id = ?", (row["upload_id"],)
            )
        return len(rows)

    def _path(self, upload_id: str) -> Path:
        return self._directory / f"{Path(upload_id).name}.tar.gz"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
