"""EventBridge "ECS Task State Change" events → TaskStateChange."""

from __future__ import annotations

from typing import Any

from orchestrator.adapters.aws.task_layout import (
    PREPARE_CONTAINER,
    PREPARE_FAILED_REASON,
    UNPACK_CONTAINER,
)
from orchestrator.domain.models import TaskStateChange
from orchestrator.unpack import REASON_BY_EXIT_CODE


def parse_task_state_change(event: dict[str, Any], container_name: str) -> TaskStateChange | None:
    """None for events that are not about a mycli execution's task."""
    detail = event.get("detail") or {}
    execution_id = detail.get("startedBy")
    last_status = detail.get("lastStatus")
    if event.get("detail-type") != "ECS Task State Change" or not execution_id or not last_status:
        return None
    container: dict[str, Any] = next(
        (c for c in detail.get("containers") or [] if c.get("name") == container_name), {}
    )
    exit_code = container.get("exitCode")
    return TaskStateChange(
        setup_failure=_setup_failure(detail.get("containers") or []),
        execution_id=execution_id,
        last_status=last_status,
        task_ref=detail.get("taskArn"),
        stop_code=detail.get("stopCode"),
        stopped_reason=detail.get("stoppedReason"),
        exit_code=int(exit_code) if exit_code is not None else None,
        container_reason=container.get("reason"),
    )


def _setup_failure(containers: list[dict[str, Any]]) -> str | None:
    """Why the prepare or unpack step failed, if it did (the command never ran)."""
    codes = {c.get("name"): c.get("exitCode") for c in containers}
    prepared = codes.get(PREPARE_CONTAINER)
    if prepared not in (None, 0):
        return PREPARE_FAILED_REASON
    unpacked = codes.get(UNPACK_CONTAINER)
    if unpacked not in (None, 0):
        reason = REASON_BY_EXIT_CODE.get(int(unpacked), f"unpack exited with code {unpacked}")
        return f"upload refused: {reason}"
    return None
