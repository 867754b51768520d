"""How an execution ends: the terminal status and reason for a process's exit code or a
stopped task, whoever reports it (a local runner, an ECS task-state event, the reaper)."""

from __future__ import annotations

from orchestrator.domain.models import Execution, ExecutionStatus, TaskStateChange

Status = ExecutionStatus


def outcome_of_exit(
    execution: Execution, exit_code: int, *, timed_out: bool
) -> tuple[ExecutionStatus, str | None]:
    """The terminal status and reason for a process or task that ended with `exit_code`."""
    if timed_out:
        return Status.TIMED_OUT, f"timed out after {execution.timeout_seconds}s"
    if execution.status is Status.CANCELLING:
        return Status.CANCELLED, f"cancelled by {execution.cancelled_by or 'an administrator'}"
    if exit_code == 0:
        return Status.SUCCEEDED, None
    return Status.FAILED, f"exited with code {exit_code}"


TIMEOUT_STOP_PREFIX = "mycli: timed out"
AGENT_STOPPED = "the run agent stopped"


def agent_stopped_reason(exit_code: int | None, why: str | None = None) -> str:
    """`the run agent stopped (exit code N)`, `(exit code N: why)` when a reason is known
    (ECS's, or what the agent's own code means), `(why)` when it has no code."""
    if exit_code is not None:
        return f"{AGENT_STOPPED} (exit code {exit_code}{f': {why}' if why else ''})"
    return f"{AGENT_STOPPED} ({why or 'killed'})"


ABANDONED = "failed to start: internal error"


def outcome_of_stop(
    execution: Execution, change: TaskStateChange
) -> tuple[ExecutionStatus, str | None]:
    """The terminal status and reason for a stopped task."""
    stopped_reason = change.stopped_reason or ""
    if change.setup_failure:
        return Status.FAILED, change.setup_failure
    if stopped_reason.startswith(TIMEOUT_STOP_PREFIX):
        return Status.TIMED_OUT, f"timed out after {execution.timeout_seconds}s"
    if change.stop_code == "UserInitiated" or execution.status is Status.CANCELLING:
        return Status.CANCELLED, f"cancelled by {execution.cancelled_by or 'an administrator'}"
    if change.agent_stopped:  # never the command's code: the agent's end killed it
        return Status.FAILED, agent_stopped_reason(change.agent_exit_code, change.container_reason)
    if change.exit_code is not None:
        status, reason = outcome_of_exit(execution, change.exit_code, timed_out=False)
        if status is Status.FAILED and change.container_reason:  # e.g. out of memory
            reason = f"{reason} ({change.container_reason})"
        return status, reason
    if change.exit_unknown:
        why = "; ".join(part for part in (change.exit_unknown, change.container_reason) if part)
        return Status.FAILED, why
    why = "; ".join(part for part in (stopped_reason, change.container_reason) if part)
    if change.stop_code == "TaskFailedToStart":
        return Status.FAILED, f"failed to start: {why or 'no reason given'}"
    return Status.FAILED, f"task stopped: {why or 'no reason given'}"
