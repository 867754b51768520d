"""Warm pools against what the platform runs (docs/warm-runners.md, the pool manager's
step 1): the records and the platform's tasks can disagree when a pool manager died between
RunTask and its records, or when a task's STOPPED event was lost. Two decisions, no AWS:

- **orphans**: tasks the platform runs as warm tasks (`startedBy` `w-<id>`) whose record is
  missing or ended, or still waiting for an image no longer registered: stop them;
- **lost**: open records whose task the platform no longer runs (stopped, or unknown to
  it) for longer than the grace: end them, `assigned` -> DONE (its run is settled by the
  reaper by its task ARN), `starting` and `ready` -> DEAD, so no record stays ASSIGNED and no
  pool counts a dead task."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from orchestrator.domain.models import parse_iso
from orchestrator.domain.warm_tasks import WarmState, WarmTask

# As long as the reaper leaves a stopped task to its event (adapters/aws/ecs.py).
DEFAULT_LOST_GRACE_SECONDS = 120


@dataclass(frozen=True)
class PlatformWarmTask:
    """A task the platform started as a warm task: the pool's id (from `startedBy`), the
    platform's handle, and whether and when it stopped (None: not known)."""

    task_id: str
    task_ref: str
    stopped: bool = False
    stopped_at: str | None = None


@dataclass(frozen=True)
class Reconciliation:
    """What the pool manager does before its plan: stop `orphans` (and end their open
    records as DEAD), end the `lost` records in the state given."""

    orphans: tuple[PlatformWarmTask, ...] = ()
    lost: tuple[tuple[WarmTask, WarmState], ...] = field(default_factory=tuple)


def orphans(
    running: Sequence[PlatformWarmTask],
    records: Mapping[str, WarmTask | None],
    images: Collection[str],
) -> list[PlatformWarmTask]:
    """The running warm tasks nothing accounts for: no record, an ended one, or one still
    waiting (starting, ready) for an image that is no longer registered. An assigned task
    runs a run: it is left to its run."""
    found = []
    for task in running:
        if task.stopped:
            continue
        if _unaccounted(records.get(task.task_id), images):
            found.append(task)
    return found


def _unaccounted(record: WarmTask | None, images: Collection[str]) -> bool:
    if record is None or not record.state.is_open:
        return True
    return record.state is not WarmState.ASSIGNED and record.image not in images


def lost(
    open_tasks: Sequence[WarmTask],
    platform: Mapping[str, PlatformWarmTask | None],
    now: datetime,
    grace_seconds: int = DEFAULT_LOST_GRACE_SECONDS,
) -> list[tuple[WarmTask, WarmState]]:
    """Open records whose task stopped (or is unknown to the platform) more than the grace
    ago, with the state each ends in. `platform` maps a record's task id to its task as the
    platform describes it (None: the platform does not know it); a record absent from it
    was not looked up and is left alone."""
    limit = now - timedelta(seconds=grace_seconds)
    found = []
    for record in open_tasks:
        if record.task_id not in platform:
            continue
        seen = platform[record.task_id]
        if seen is not None and not seen.stopped:
            continue
        since = seen.stopped_at if seen is not None and seen.stopped_at else _last_move(record)
        if parse_iso(since) > limit:
            continue  # its event may be on its way
        ends = WarmState.DONE if record.state is WarmState.ASSIGNED else WarmState.DEAD
        found.append((record, ends))
    return found


def _last_move(record: WarmTask) -> str:
    return record.claimed_at or record.ready_at or record.started_at
