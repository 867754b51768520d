"""The shapes ECS reports a task in: DescribeTasks' task record (camelCase, times as ISO-8601
strings, as EventBridge carries them) and the EventBridge "ECS Task State Change" event whose
`detail` is that record (what orchestrator.adapters.aws.task_events reads)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

DETAIL_TYPE = "ECS Task State Change"
SOURCE = "aws.ecs"

# Task statuses, in ECS's lifecycle order (ACTIVATING, DEACTIVATING, DEPROVISIONING: no
# network interface to attach here, so the stand-in never reports them).
PROVISIONING = "PROVISIONING"
PENDING = "PENDING"
RUNNING = "RUNNING"
STOPPING = "STOPPING"
STOPPED = "STOPPED"

# stopCode values.
ESSENTIAL_CONTAINER_EXITED = "EssentialContainerExited"
USER_INITIATED = "UserInitiated"
TASK_FAILED_TO_START = "TaskFailedToStart"
ESSENTIAL_EXITED_REASON = "Essential container in task exited"
DEFAULT_STOP_REASON = "Task stopped by user"


def iso(moment: datetime | None) -> str | None:
    """EventBridge's time format: 2024-01-02T03:04:05.678Z."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def without_none(record: dict[str, Any]) -> dict[str, Any]:
    """ECS leaves out what it does not know (exitCode, stopCode, ...) rather than null it."""
    return {key: value for key, value in record.items() if value is not None}


def task_state_change(record: dict[str, Any], *, region: str, account: str) -> dict[str, Any]:
    """The EventBridge event for a task record."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": SOURCE,
        "account": account,
        "time": record.get("updatedAt") or iso(datetime.now(UTC)),
        "region": region,
        "resources": [record["taskArn"]],
        "detail": record,
    }
