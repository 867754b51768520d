"""Warm pools (docs/warm-runners.md): how many tasks of each image to keep started ahead,
which to stop, and claiming one for a run. The pool manager carries out `plan()` (RunTask,
StopTask); the create claims with `claim()`. No AWS here: the WarmPool port keeps the
tasks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from orchestrator.domain.models import Image, parse_iso, utc_iso
from orchestrator.domain.warm_reconcile import (
    DEFAULT_LOST_GRACE_SECONDS,
    PlatformWarmTask,
    Reconciliation,
    lost,
    orphans,
)
from orchestrator.domain.warm_tasks import PoolCounts, WarmState, WarmTask
from orchestrator.ports import Clock, WarmPool, WarmTaskPlatform

DEFAULT_WARM_BUDGET = 10


@dataclass(frozen=True)
class WarmPolicy:
    """The deployment's rules. `budget`: warm tasks (starting and ready) across every pool,
    apart from the run quotas (a claimed task is a run and counts there). A task starting
    for longer than `starting_grace_seconds` is given up; a ready one is not claimed within
    `claim_margin_seconds` of its mailbox's expiry (the pool manager replaces it). A record
    whose task stopped without its event is ended `lost_grace_seconds` after."""

    budget: int = DEFAULT_WARM_BUDGET
    starting_grace_seconds: int = 300
    claim_margin_seconds: int = 120
    lost_grace_seconds: int = DEFAULT_LOST_GRACE_SECONDS


@dataclass(frozen=True)
class PoolState:
    """What the plan is made from, for one image."""

    image: Image
    open_tasks: tuple[WarmTask, ...]
    last_demand: str | None = None


@dataclass(frozen=True)
class PoolPlan:
    """What the pool manager does for one image: start `start` tasks, stop `stop` (and end
    their records as DEAD). `desired` is the target, or 0 once the pool is idle."""

    image: str
    desired: int
    start: int = 0
    stop: tuple[WarmTask, ...] = field(default_factory=tuple)


def is_idle(image: Image, last_demand: str | None, now: datetime) -> bool:
    """No run asked for `image` for its warm_idle_seconds (counted from its registration
    when none ever did)."""
    since = max(last_demand or image.registered_at, image.registered_at)
    return now - parse_iso(since) >= timedelta(seconds=image.warm_idle_seconds)


def desired_size(image: Image, last_demand: str | None, now: datetime) -> int:
    """The image's target, 0 once it is idle: the next run starts cold and wakes it."""
    return 0 if is_idle(image, last_demand, now) else image.warm


def plan_pools(
    pools: Sequence[PoolState], now: datetime, policy: WarmPolicy | None = None
) -> list[PoolPlan]:
    """For each pool: stop what is stale (starting too long, mailbox expiring, started from
    another task definition) and what is over the desired size (the oldest ready first),
    then start the missing ones, all within the budget (shared out one task at a time to
    the pool that misses most, by name on ties)."""
    policy = policy or WarmPolicy()
    starting_before = utc_iso(now - timedelta(seconds=policy.starting_grace_seconds))
    expiring_before = utc_iso(now + timedelta(seconds=policy.claim_margin_seconds))
    stops: dict[str, list[WarmTask]] = {}
    live: dict[str, list[WarmTask]] = {}
    desired: dict[str, int] = {}
    for pool in sorted(pools, key=lambda p: p.image.name):
        name = pool.image.name
        desired[name] = desired_size(pool.image, pool.last_demand, now)
        stale = [
            task
            for task in pool.open_tasks
            if _is_stale(task, pool.image, starting_before, expiring_before)
        ]
        kept = [
            task
            for task in pool.open_tasks
            if task.state in (WarmState.STARTING, WarmState.READY) and task not in stale
        ]
        surplus = _surplus(kept, desired[name])
        stops[name] = stale + surplus
        live[name] = [task for task in kept if task not in surplus]
    _trim_to_budget(live, stops, policy.budget)
    starts = _share_starts(live, desired, policy.budget)
    return [
        PoolPlan(image=name, desired=desired[name], start=starts[name], stop=tuple(stops[name]))
        for name in desired
    ]


def _is_stale(task: WarmTask, image: Image, starting_before: str, expiring_before: str) -> bool:
    if task.state is WarmState.STARTING:
        return task.started_at < starting_before or task.platform_ref != image.platform_ref
    if task.state is WarmState.READY:
        return task.usable_until < expiring_before or task.platform_ref != image.platform_ref
    return False  # assigned: a run, ended by its task's events, not by the pool


def _surplus(kept: list[WarmTask], desired: int) -> list[WarmTask]:
    """The tasks over `desired`: ready ones first (oldest first), then starting ones."""
    over = len(kept) - desired
    if over <= 0:
        return []
    ready = sorted((t for t in kept if t.state is WarmState.READY), key=lambda t: t.started_at)
    starting = sorted(
        (t for t in kept if t.state is WarmState.STARTING), key=lambda t: t.started_at
    )
    return (ready + starting)[:over]


def _trim_to_budget(
    live: dict[str, list[WarmTask]], stops: dict[str, list[WarmTask]], budget: int
) -> None:
    """A lowered budget: stop tasks of the largest pools until the total fits."""
    while sum(len(tasks) for tasks in live.values()) > budget:
        name = max(sorted(live), key=lambda n: len(live[n]))
        victim = next(
            (t for t in live[name] if t.state is WarmState.READY), live[name][0]
        )  # a ready one first: a starting one may be nearly ready
        live[name].remove(victim)
        stops[name].append(victim)


def _share_starts(
    live: dict[str, list[WarmTask]], desired: dict[str, int], budget: int
) -> dict[str, int]:
    starts = dict.fromkeys(desired, 0)
    room = budget - sum(len(tasks) for tasks in live.values())
    while room > 0:
        missing = {
            name: desired[name] - len(live[name]) - starts[name]
            for name in desired
            if desired[name] - len(live[name]) - starts[name] > 0
        }
        if not missing:
            break
        neediest = max(sorted(missing), key=lambda n: missing[n])
        starts[neediest] += 1
        room -= 1
    return starts


class WarmPools:
    def __init__(self, pool: WarmPool, clock: Clock, policy: WarmPolicy | None = None) -> None:
        self._pool = pool
        self._clock = clock
        self._policy = policy or WarmPolicy()

    def counts(self, image: Image) -> PoolCounts:
        """The pool as `GET /images` shows it."""
        counted = self._pool.counts(image.name)
        return PoolCounts(
            target=image.warm,
            ready=counted.get(WarmState.READY, 0),
            starting=counted.get(WarmState.STARTING, 0),
            assigned=counted.get(WarmState.ASSIGNED, 0),
        )

    def claim(self, image: Image, execution_id: str, cpu: int, memory: int) -> WarmTask | None:
        """A ready task of `image` for the run, or None (it starts cold). Every run on an
        image with a pool is noted as demand, which keeps the pool up (or wakes it). Only a
        run of the image's own size fits its warm tasks."""
        if image.warm == 0:
            return None
        now = self._clock.now()
        self._pool.note_demand(image.name, utc_iso(now))
        if (cpu, memory) != (image.cpu, image.memory):
            return None
        return self._pool.claim(
            image.name,
            execution_id,
            platform_ref=image.platform_ref,
            usable_after=utc_iso(now + timedelta(seconds=self._policy.claim_margin_seconds)),
            at=utc_iso(now),
        )

    def wake(self, image: Image) -> None:
        """An admin set `image`'s pool: count that as demand, so the pool starts at the next
        plan instead of staying idle until a run asks for the image."""
        if image.warm > 0:
            self._pool.note_demand(image.name, utc_iso(self._clock.now()))

    def plan(self, images: Sequence[Image]) -> list[PoolPlan]:
        """What the pool manager does now for `images` (pass every registered image: one
        with `warm` 0 gets its tasks stopped)."""
        states = [
            PoolState(
                image=image,
                open_tasks=tuple(self._pool.open_tasks(image.name)),
                last_demand=self._pool.last_demand(image.name),
            )
            for image in images
        ]
        return plan_pools(states, self._clock.now(), self._policy)

    def reconcile(self, images: Sequence[Image], platform: WarmTaskPlatform) -> Reconciliation:
        """The records against the platform's tasks (domain/warm_reconcile.py): orphaned
        tasks to stop, and records of `images` to end whose task stopped unseen. The
        platform is listed before the records are read: a task started meanwhile has its
        record already (it is registered before RunTask)."""
        running = platform.running()
        records = {task.task_id: self._pool.get(task.task_id) for task in running}
        found = orphans(running, records, {image.name for image in images})
        open_tasks = [task for image in images for task in self._pool.open_tasks(image.name)]
        seen: dict[str, PlatformWarmTask | None] = {task.task_id: task for task in running}
        unseen = [t for t in open_tasks if t.task_id not in seen]
        described = platform.describe([t.task_ref for t in unseen if t.task_ref])
        for task in unseen:  # not running: stopped, or unknown to the platform
            seen[task.task_id] = described.get(task.task_ref) if task.task_ref else None
        ended = lost(open_tasks, seen, self._clock.now(), self._policy.lost_grace_seconds)
        return Reconciliation(orphans=tuple(found), lost=tuple(ended))

    def finish(self, task: WarmTask, state: WarmState) -> WarmTask | None:
        """End `task`'s record (the pool manager stopped it, or its task ended)."""
        return self._pool.finish(task.task_id, state, utc_iso(self._clock.now()))
