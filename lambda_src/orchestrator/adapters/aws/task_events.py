"""EventBridge "ECS Task State Change" events (and DescribeTasks' task records, which have
the same shape) → TaskStateChange, completed on STOPPED with what the run agent reported
(its result object, see orchestrator.agent.layout):

- the exit code is the result's, else the command container's from the event (with ECS's
  reason for that container, e.g. "OutOfMemoryError: Container killed due to memory
  usage", kept for the run's reason);
- the commit and the truncation offset are the result's;
- the result's `failure` fails the run with that reason (setup refused, output refused...);
- no result, and the agent container exited (or was killed) after the task had started:
  the agent stopped without reporting, which fails the run unless it was being cancelled
  or timed out (domain.outcomes)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from orchestrator.agent.layout import (
    AGENT_CONTAINER,
    AGENT_EXIT_CRASHED,
    AGENT_EXIT_NO_ASSIGNMENT,
    AGENT_EXIT_NO_MANIFEST,
    AGENT_EXIT_STORE_REFUSED,
    COMMAND_CONTAINER,
)
from orchestrator.domain.models import RunResult, TaskStateChange
from orchestrator.ports import RunResults

FAILED_TO_START = "TaskFailedToStart"
# What the agent's own exit codes mean, when it stopped without a result (layout.py).
AGENT_EXIT_MEANINGS = {
    AGENT_EXIT_NO_MANIFEST: "it could not read the run's manifest",
    AGENT_EXIT_CRASHED: "it failed",
    AGENT_EXIT_STORE_REFUSED: "the output store refused a write",
    AGENT_EXIT_NO_ASSIGNMENT: "its warm task never read the run's assignment",
}


def parse_task_state_change(event: dict[str, Any]) -> TaskStateChange | None:
    """What the event alone says; None for events that are not about a mycli execution's
    task."""
    detail = event.get("detail") or {}
    execution_id = detail.get("startedBy")
    last_status = detail.get("lastStatus")
    if event.get("detail-type") != "ECS Task State Change" or not execution_id or not last_status:
        return None
    command = _container(detail, COMMAND_CONTAINER)
    return TaskStateChange(
        execution_id=execution_id,
        last_status=last_status,
        task_ref=detail.get("taskArn"),
        stop_code=detail.get("stopCode"),
        stopped_reason=detail.get("stoppedReason"),
        exit_code=_exit_code(command),
        container_reason=command.get("reason"),
    )


def task_state_change(event: dict[str, Any], results: RunResults) -> TaskStateChange | None:
    """The event's change; for a stopped task, with the run agent's result read in."""
    change = parse_task_state_change(event)
    if change is None or change.last_status != "STOPPED":
        return change
    result = results.result_of(change.execution_id)
    if result is not None:
        return with_result(change, result)
    agent = _container(event.get("detail") or {}, AGENT_CONTAINER)
    ran = change.stop_code != FAILED_TO_START and (
        _exit_code(agent) is not None or bool(agent.get("reason"))
    )
    if not ran:  # never started: the event's own reasons tell why
        return change
    code = _exit_code(agent)
    return replace(
        change,
        container_reason=agent.get("reason") or AGENT_EXIT_MEANINGS.get(code or 0),
        agent_stopped=True,
        agent_exit_code=code,
    )


def with_result(change: TaskStateChange, result: RunResult) -> TaskStateChange:
    return replace(
        change,
        # A setup failure ran no command: no exit code (the entry's 125 is its abort), as embedded.
        exit_code=None
        if result.failure
        else (result.exit_code if result.exit_code is not None else change.exit_code),
        git_commit=result.git_commit,
        setup_failure=result.failure,
        log_truncated_at=result.truncated_at,
        exit_unknown=result.exit_unknown if result.exit_code is None else None,
    )


def _container(detail: dict[str, Any], name: str) -> dict[str, Any]:
    return next((c for c in detail.get("containers") or [] if c.get("name") == name), {})


def _exit_code(container: dict[str, Any]) -> int | None:
    code = container.get("exitCode")
    return int(code) if code is not None else None
