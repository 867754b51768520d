"""The AWS output store as a run agent meets it: a presigned POST slot signed for the moto
server, behind S3's policy checks (twin.s3_front), and the real writer posting to it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3

from moto_aws import CODE_BUCKET, REGION
from orchestrator.adapters.aws.s3_output import SIGV4, output_slot
from orchestrator.agent.segment_post import PostSlot, PresignedPostStore
from orchestrator.domain.models import Execution, ExecutionStatus


def signed_slot(endpoint: str, execution_id: str = "e1", timeout_seconds: int = 60) -> PostSlot:
    """A slot for `execution_id`, its form posted to `endpoint` (the policy front)."""
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=endpoint, config=SIGV4)
    slot = output_slot(s3, CODE_BUCKET, execution_id, timeout_seconds, datetime.now(UTC))
    return PostSlot.from_dict(slot.to_dict())


def post_store(endpoint: str, execution_id: str = "e1", **options: Any) -> PresignedPostStore:
    return PresignedPostStore(signed_slot(endpoint, execution_id), **options)


def execution(
    status: ExecutionStatus = ExecutionStatus.RUNNING, finished_at: str | None = None
) -> Execution:
    return Execution(
        execution_id="e1",
        user_email="a@x.io",
        command="x",
        status=status,
        started_at="2026-01-01T00:00:00.000Z",
        timeout_seconds=5,
        log_stream_name="e1",
        finished_at=finished_at,
    )
