"""EventBridge "ECS Task State Change" events (and DescribeTasks' task records, which have
the same shape) → TaskStateChange; the output of a failed setup step."""

from __future__ import annotations

from typing import Any

from orchestrator.adapters.aws.task_layout import (
    CLONE_CONTAINER,
    FETCH_CONTAINER,
    PREPARE_CONTAINER,
    UNPACK_CONTAINER,
)
from orchestrator.domain.models import TaskStateChange
from orchestrator.git_checkout import commit_of
from orchestrator.unpack import REASON_BY_EXIT_CODE

STEP_PURPOSE = {
    FETCH_CONTAINER: "fetch the run's inputs",
    PREPARE_CONTAINER: "unseal the env values",
    CLONE_CONTAINER: "check out the git source",
}
OUTPUT_TAIL_LINES = 5
MAX_OUTPUT_CHARS = 600


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
        setup_failure=setup_failure(detail.get("containers") or []),
        execution_id=execution_id,
        last_status=last_status,
        task_ref=detail.get("taskArn"),
        stop_code=detail.get("stopCode"),
        stopped_reason=detail.get("stoppedReason"),
        exit_code=int(exit_code) if exit_code is not None else None,
        container_reason=container.get("reason"),
    )


def failed_step(containers: list[dict[str, Any]]) -> str | None:
    """The first setup step (fetch, prepare, clone, unpack) that exited non-zero, if any."""
    codes = {c.get("name"): c.get("exitCode") for c in containers}
    for step in (FETCH_CONTAINER, PREPARE_CONTAINER, CLONE_CONTAINER, UNPACK_CONTAINER):
        if codes.get(step) not in (None, 0):
            return step
    return None


def setup_failure(containers: list[dict[str, Any]]) -> str | None:
    """Why a setup step failed, if one did (the command never ran): the step, its exit
    code and ECS's reason for it."""
    step = failed_step(containers)
    if step is None:
        return None
    container = next(c for c in containers if c.get("name") == step)
    code = int(container["exitCode"])
    if step == UNPACK_CONTAINER:
        reason = REASON_BY_EXIT_CODE.get(code, f"unpack exited with code {code}")
        return f"upload refused: {reason}"
    why = f"could not {STEP_PURPOSE[step]}: {step} exited with code {code}"
    if container.get("reason"):
        why += f" ({container['reason']})"
    return why


def clone_succeeded(containers: list[dict[str, Any]]) -> bool:
    """Whether the task's clone step has checked a git source out (or had none to)."""
    return any(c.get("name") == CLONE_CONTAINER and c.get("exitCode") == 0 for c in containers)


def logged_git_commit(logs: Any, log_group: str, stream: str) -> str | None:
    """The commit the clone step printed in its log (`mycli-git-commit: SHA`), if any."""
    try:
        response = logs.get_log_events(
            logGroupName=log_group, logStreamName=stream, limit=50, startFromHead=True
        )
    except Exception:  # the run goes on; only the record lacks its commit
        return None
    for event in response.get("events", []):
        commit = commit_of(event.get("message", ""))
        if commit is not None:
            return commit
    return None


def step_output(logs: Any, log_group: str, stream: str) -> str:
    """The last lines a setup step wrote (its CloudWatch stream), '' when there are none."""
    try:
        response = logs.get_log_events(
            logGroupName=log_group,
            logStreamName=stream,
            limit=OUTPUT_TAIL_LINES,
            startFromHead=False,
        )
    except Exception:  # the reason stays useful without the output
        return ""
    text = " | ".join(e["message"].strip() for e in response.get("events", []) if e["message"])
    return text[-MAX_OUTPUT_CHARS:]
