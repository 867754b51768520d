"""ECS task-state events of warm tasks (docs/warm-runners.md), told by their `startedBy`
`w-<task id>`: RUNNING makes a starting task ready (with its ARN); STOPPED ends it, DEAD
when it was never assigned (no run is affected), else DONE (the agent exited 0) or DEAD,
and then the event is its run's: the same event with the run's execution id as
`startedBy`, ended exactly as a cold task's (a run whose task_ref is another task, as
after a cold retry, ignores it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from orchestrator.agent.layout import AGENT_CONTAINER
from orchestrator.domain.warm_tasks import WarmState, WarmTask
from orchestrator.ports import WarmPool

WARM_STARTED_BY_PREFIX = "w-"


def warm_started_by(task_id: str) -> str:
    """The `startedBy` of a warm task (ECS allows 36 characters: `w-` and 32 hex)."""
    return f"{WARM_STARTED_BY_PREFIX}{task_id}"


@dataclass(frozen=True)
class WarmEvent:
    """What a warm task's event did: its record afterwards (None: unknown to the pool, or
    unchanged), and the event as its run's when it ends one. `ended`: this event ended the
    task's record (its pool has a place to refill)."""

    task_id: str
    task: WarmTask | None = None
    run_event: dict[str, Any] | None = None
    ended: bool = False


def warm_task_id(event: dict[str, Any]) -> str | None:
    started_by = (event.get("detail") or {}).get("startedBy") or ""
    if event.get("detail-type") != "ECS Task State Change":
        return None
    if not started_by.startswith(WARM_STARTED_BY_PREFIX):
        return None
    return str(started_by[len(WARM_STARTED_BY_PREFIX) :])


def on_warm_event(event: dict[str, Any], pool: WarmPool, at: str) -> WarmEvent | None:
    """Apply a warm task's event to the pool; None when the event is not a warm task's."""
    task_id = warm_task_id(event)
    if task_id is None:
        return None
    detail = event.get("detail") or {}
    status = detail.get("lastStatus")
    if status == "RUNNING":
        arn = detail.get("taskArn")
        return WarmEvent(task_id, pool.mark_ready(task_id, arn, at) if arn else None)
    if status != "STOPPED":
        return WarmEvent(task_id)
    known = pool.get(task_id)
    if known is None:
        return WarmEvent(task_id)
    if known.execution_id is None:
        ended = pool.finish(task_id, WarmState.DEAD, at)
        return WarmEvent(task_id, ended, ended=ended is not None)
    ended = pool.finish(task_id, WarmState.DONE if _agent_exit(detail) == 0 else WarmState.DEAD, at)
    # Replayed (the record ended already): the run's end is still applied, once, by the
    # domain (every transition only moves forward).
    run_event = {**event, "detail": {**detail, "startedBy": known.execution_id}}
    return WarmEvent(task_id, ended, run_event, ended=ended is not None)


def settle_warm_event(
    event: dict[str, Any],
    pool: WarmPool,
    at: str,
    refill: Callable[[str], None] | None,
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """What the task-events function does first with an event: (its answer when the event
    was only a warm task's, else None), and the event that settles a run (the run's own,
    for a warm task that ended one; else the event as it came). An event that ended a warm
    record asks the pool manager to refill (`refill`, best effort)."""
    warm = on_warm_event(event, pool, at)
    if warm is None:
        return None, event
    if warm.ended and refill is not None:
        refill("stopped")
    if warm.run_event is None:
        state = warm.task.state.value if warm.task else None
        return {"warm_task": warm.task_id, "state": state}, event
    return None, warm.run_event


def _agent_exit(detail: dict[str, Any]) -> int | None:
    for container in detail.get("containers") or []:
        if container.get("name") == AGENT_CONTAINER and container.get("exitCode") is not None:
            return int(container["exitCode"])
    return None
