"""The warm pools' records against the platform's tasks (domain/warm_reconcile.py,
WarmPools.reconcile) with the in-memory pool and a platform given as data: orphans to stop,
records to end when their task stopped unseen for longer than the grace."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from fake_warm_pool import InMemoryWarmPool
from fakes import FakeClock
from orchestrator.domain.models import Image, utc_iso
from orchestrator.domain.warm_pools import WarmPolicy, WarmPools
from orchestrator.domain.warm_reconcile import PlatformWarmTask, lost, orphans
from orchestrator.domain.warm_tasks import WarmState, WarmTask

TOOLS = Image(
    name="tools",
    uri="registry.example/tools:1",
    cpu=256,
    memory=512,
    max_cpu=1024,
    max_memory=2048,
    registered_by="admin@example.com",
    registered_at="2026-01-01T11:00:00.000Z",
    platform_ref="td/tools:1",
    warm=2,
)


@dataclass
class Platform:
    """The platform's warm tasks as data: `tasks` by ref (stopped or not); a ref absent is
    unknown to it."""

    tasks: dict[str, PlatformWarmTask] = field(default_factory=dict)
    described: list[list[str]] = field(default_factory=list)

    def running(self) -> list[PlatformWarmTask]:
        return [task for task in self.tasks.values() if not task.stopped]

    def describe(self, task_refs: Sequence[str]) -> dict[str, PlatformWarmTask | None]:
        self.described.append(list(task_refs))
        return {ref: self.tasks.get(ref) for ref in task_refs}

    def run(self, task_id: str, stopped_at: str | None = None) -> str:
        ref = f"arn:task/{task_id}"
        self.tasks[ref] = PlatformWarmTask(task_id, ref, stopped_at is not None, stopped_at)
        return ref


def record(
    task_id: str, state: WarmState, at: str, task_ref: str | None = None, image: str = "tools"
) -> WarmTask:
    return WarmTask(
        task_id=task_id,
        image=image,
        state=state,
        mailbox=f"warm/{task_id}/assignment",
        platform_ref="td/tools:1",
        started_at=at,
        usable_until="2999-01-01T00:00:00.000Z",
        task_ref=task_ref,
        ready_at=at if state is not WarmState.STARTING else None,
        execution_id="e1" if state is WarmState.ASSIGNED else None,
        claimed_at=at if state is WarmState.ASSIGNED else None,
    )


def test_orphans_are_running_tasks_without_a_waiting_record() -> None:
    # given running tasks: no record, an ended record, a ready one of a removed image, an
    # assigned one of a removed image, a ready one of a registered image
    at = "2026-01-01T12:00:00.000Z"
    running = [PlatformWarmTask(n, f"arn:task/{n}") for n in ("a", "b", "c", "d", "e")]
    records = {
        "a": None,
        "b": record("b", WarmState.DONE, at),
        "c": record("c", WarmState.READY, at, image="removed"),
        "d": record("d", WarmState.ASSIGNED, at, image="removed"),
        "e": record("e", WarmState.READY, at),
    }
    # then the first three are orphans; a run's task and the pool's own are not
    assert [t.task_id for t in orphans(running, records, {"tools"})] == ["a", "b", "c"]
    # and a task stopping already is not stopped again
    stopping = [PlatformWarmTask("a", "arn:task/a", stopped=True)]
    assert orphans(stopping, {"a": None}, {"tools"}) == []


def test_lost_records_end_after_the_grace_assigned_done_others_dead() -> None:
    clock = FakeClock()  # 12:00
    now = clock.now()
    long_ago = utc_iso(now - timedelta(minutes=10))
    recently = utc_iso(now - timedelta(seconds=30))
    tasks = [
        record("assigned", WarmState.ASSIGNED, long_ago, "arn:task/assigned"),
        record("ready", WarmState.READY, long_ago, "arn:task/ready"),
        record("unknown", WarmState.READY, long_ago, "arn:task/unknown"),
        record("starting", WarmState.STARTING, long_ago),
        record("fresh", WarmState.READY, recently, "arn:task/fresh"),
        record("stopped-now", WarmState.READY, long_ago, "arn:task/stopped-now"),
        record("running", WarmState.READY, long_ago, "arn:task/running"),
        record("unlooked", WarmState.READY, long_ago, "arn:task/unlooked"),
    ]
    stopped = PlatformWarmTask("x", "arn:task/x", stopped=True)
    platform: dict[str, PlatformWarmTask | None] = {
        "assigned": stopped,
        "ready": stopped,
        "unknown": None,
        "starting": None,
        "fresh": stopped,  # no stoppedAt: the record's last move counts, 30 s ago
        "stopped-now": PlatformWarmTask("x", "arn:task/x", True, recently),
        "running": PlatformWarmTask("x", "arn:task/x"),
    }

    ended = {task.task_id: state for task, state in lost(tasks, platform, now, 120)}

    assert ended == {
        "assigned": WarmState.DONE,
        "ready": WarmState.DEAD,
        "unknown": WarmState.DEAD,
        "starting": WarmState.DEAD,
    }


def test_reconcile_reads_the_platform_and_the_records_of_registered_images() -> None:
    # given a pool with a running ready task, a ready one stopped unseen long ago, a
    # starting one whose task runs (no RUNNING event yet), and an orphan
    clock = FakeClock()
    pool = InMemoryWarmPool()
    pools = WarmPools(pool, clock, WarmPolicy(lost_grace_seconds=120))
    platform = Platform()
    long_ago = utc_iso(clock.now() - timedelta(minutes=10))
    pool.register(record("alive", WarmState.READY, long_ago, platform.run("alive")))
    pool.register(record("dead", WarmState.READY, long_ago, platform.run("dead", long_ago)))
    platform.run("starting")
    pool.register(record("starting", WarmState.STARTING, long_ago))
    orphan = platform.run("orphan")

    found = pools.reconcile([TOOLS], platform)

    # then the orphan is to stop, the stopped task's record to end, nothing else
    assert [t.task_ref for t in found.orphans] == [orphan]
    assert [(t.task_id, s) for t, s in found.lost] == [("dead", WarmState.DEAD)]
    # and only the record not seen running was described
    assert platform.described == [["arn:task/dead"]]
