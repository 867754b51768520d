"""The presigned POST policy a run's agent writes its output with (see output_segments).

Signed by the create function, whose role may put objects under runs/; the agent gets it in
the run's manifest and holds no AWS credentials for S3 (the task role grants nothing). The
policy limits every object to the run's output prefix (starts-with on the key) and to one
segment's size (content-length-range), and expires after the run's timeout plus a margin
for setup and the final flush. Mind the signer: a policy signed with temporary
credentials (a Lambda role's) stops working when those credentials expire, whatever its
own expiration says; runs longer than that session need a fresh slot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.config import Config

from orchestrator.domain.models import utc_iso
from orchestrator.output_segments import MAX_OBJECT_BYTES, output_prefix

# Beyond the run's timeout: queueing, pulling images, setup, the final flush and end marker.
SLOT_MARGIN_SECONDS = 3600
# botocore signs POST policies with SigV2 unless told otherwise; S3 wants SigV4.
SIGV4 = Config(signature_version="s3v4")


@dataclass(frozen=True)
class OutputSlot:
    """What the agent needs to write a run's output: the form's URL and signed fields."""

    url: str
    fields: dict[str, str]
    prefix: str
    expires_at: str
    max_object_bytes: int

    def to_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def output_slot(
    s3: Any, bucket: str, execution_id: str, timeout_seconds: int, now: datetime
) -> OutputSlot:
    """A POST policy for `runs/<execution_id>/output/`, valid for the run and its margin.
    `s3` must sign with SigV4 (a client made with `config=SIGV4`)."""
    prefix = output_prefix(execution_id)
    lifetime = timeout_seconds + SLOT_MARGIN_SECONDS
    # A key ending in ${filename} makes boto3 add ["starts-with", "$key", prefix].
    post = s3.generate_presigned_post(
        Bucket=bucket,
        Key=prefix + "${filename}",
        Conditions=[["content-length-range", 1, MAX_OBJECT_BYTES]],
        ExpiresIn=lifetime,
    )
    if post["fields"].get("x-amz-algorithm") != "AWS4-HMAC-SHA256":
        raise ValueError("output_slot needs an S3 client that signs with SigV4 (config=SIGV4)")
    return OutputSlot(
        url=post["url"],
        fields=dict(post["fields"]),
        prefix=prefix,
        expires_at=utc_iso(now + timedelta(seconds=lifetime)),
        max_object_bytes=MAX_OBJECT_BYTES,
    )
