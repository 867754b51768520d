"""Uploads in the CodeBucket: a presigned PUT under the user's own prefix; an upload is
complete when its object exists (the bucket's lifecycle removes it after 7 days)."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from orchestrator.adapters.aws.clients import error_code
from orchestrator.adapters.aws.task_layout import UPLOADS_PREFIX
from orchestrator.domain.models import Upload, UploadSlot, utc_iso

CONTENT_TYPE = "application/gzip"
UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def user_prefix(user_email: str) -> str:
    """Each user's uploads live under their own prefix (a hash: no email in object keys)."""
    return f"{UPLOADS_PREFIX}{hashlib.sha256(user_email.encode()).hexdigest()[:24]}/"


class S3UploadStore:
    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def key_for(self, user_email: str, upload_id: str) -> str:
        return f"{user_prefix(user_email)}{upload_id}.tar.gz"

    def open_slot(
        self, upload_id: str, user_email: str, expires_at: datetime, max_bytes: int
    ) -> UploadSlot:
        lifetime = max(1, int((expires_at - datetime.now(UTC)).total_seconds()))
        url = self._s3.generate_presigned_url(
            "put_object",
            Params={
                "Bucket": self._bucket,
                "Key": self.key_for(user_email, upload_id),
                "ContentType": CONTENT_TYPE,
            },
            ExpiresIn=lifetime,
            HttpMethod="PUT",
        )
        return UploadSlot(
            upload_id=upload_id,
            url=url,
            method="PUT",
            headers={"Content-Type": CONTENT_TYPE},
            expires_at=utc_iso(expires_at),
            max_bytes=max_bytes,
        )

    def find(self, user_email: str, upload_id: str) -> Upload | None:
        if not UPLOAD_ID.match(upload_id):
            return None
        key = self.key_for(user_email, upload_id)
        try:
            head = self._s3.head_object(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if error_code(error) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return Upload(
            upload_id=upload_id,
            user_email=user_email,
            location=key,
            size=int(head["ContentLength"]),
            completed_at=utc_iso(head["LastModified"]),
        )
