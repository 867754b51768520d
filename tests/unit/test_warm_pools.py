"""The warm pools' decisions (domain/warm_pools.py) with the in-memory pool: refill to the
target, stale tasks replaced, scale to zero after the idle time and back with the next run,
the budget across pools, and which runs may claim."""

from __future__ import annotations

from datetime import timedelta

from fake_warm_pool import InMemoryWarmPool
from fakes import FakeClock
from orchestrator.domain.models import Image, utc_iso
from orchestrator.domain.warm_pools import WarmPolicy, WarmPools, is_idle
from orchestrator.domain.warm_tasks import PoolCounts, WarmState, WarmTask

TD = "arn:aws:ecs:eu-west-1:123456789012:task-definition/mycli-image-{name}:1"


def image(name: str = "tools", warm: int = 3, idle: int = 3600, **fields: object) -> Image:
    values: dict[str, object] = {
        "name": name,
        "uri": f"registry.example/{name}:1",
        "cpu": 256,
        "memory": 512,
        "max_cpu": 1024,
        "max_memory": 2048,
        "registered_by": "admin@example.com",
        "registered_at": "2026-01-01T11:59:00.000Z",
        "platform_ref": TD.format(name=name),
        "warm": warm,
        "warm_idle_seconds": idle,
    }
    return Image(**(values | fields))  # type: ignore[arg-type]


class World:
    def __init__(self, budget: int = 10) -> None:
        self.clock = FakeClock()  # 2026-01-01 12:00 UTC
        self.pool = InMemoryWarmPool()
        self.pools = WarmPools(self.pool, self.clock, WarmPolicy(budget=budget))
        self.made = 0

    def start(self, of: Image, state: WarmState = WarmState.READY, **fields: object) -> WarmTask:
        self.made += 1
        now = self.clock.now()
        values: dict[str, object] = {
            "task_id": f"{self.made:032x}",
            "image": of.name,
            "state": WarmState.STARTING,
            "mailbox": f"warm/{self.made:032x}/assignment",
            "platform_ref": of.platform_ref,
            "started_at": utc_iso(now),
            "usable_until": utc_iso(now + timedelta(hours=1)),
        }
        task = WarmTask(**(values | fields))  # type: ignore[arg-type]
        self.pool.register(task)
        if state is WarmState.READY:
            made = self.pool.mark_ready(task.task_id, f"arn:task/{self.made}", utc_iso(now))
            assert made is not None
            return made
        return task

    def plan(self, *images: Image) -> dict[str, tuple[int, int, list[str]]]:
        """Per image: (desired, tasks to start, ids of tasks to stop)."""
        return {
            p.image: (p.desired, p.start, [t.task_id for t in p.stop])
            for p in self.pools.plan(images)
        }


def test_an_empty_pool_is_filled_to_its_target() -> None:
    world = World()
    assert world.plan(image(warm=3)) == {"tools": (3, 3, [])}


def test_a_pool_counts_starting_tasks_and_refills_only_what_is_missing() -> None:
    world = World()
    tools = image(warm=3)
    world.start(tools)
    world.start(tools, WarmState.STARTING)
    assert world.plan(tools) == {"tools": (3, 1, [])}


def test_a_claimed_task_leaves_the_pool_and_is_replaced() -> None:
    # given a full pool
    world = World()
    tools = image(warm=2)
    world.start(tools)
    world.start(tools)
    # when a run claims a task
    claimed = world.pools.claim(tools, "e" * 32, 256, 512)
    # then it is the run's now, and the pool starts one more
    assert claimed is not None and claimed.execution_id == "e" * 32
    assert world.pools.counts(tools) == PoolCounts(target=2, ready=1, starting=0, assigned=1)
    assert world.plan(tools) == {"tools": (2, 1, [])}


def test_a_pool_over_its_target_stops_its_oldest_ready_tasks_first() -> None:
    world = World()
    tools = image(warm=1)
    oldest = world.start(tools)
    world.clock.advance(5)
    world.start(tools)
    world.start(tools, WarmState.STARTING)
    desired, start, stop = world.plan(tools)["tools"]
    assert (desired, start) == (1, 0)
    assert stop == [oldest.task_id, f"{2:032x}"]


def test_stale_tasks_are_stopped_and_replaced() -> None:
    world = World()
    tools = image(warm=3)
    stuck = world.start(tools, WarmState.STARTING)  # never became ready
    world.clock.advance(301)
    expiring = world.start(tools, usable_until=utc_iso(world.clock.now() + timedelta(seconds=60)))
    outdated = world.start(tools, platform_ref=TD.format(name="tools") + "-old")
    assert world.plan(tools) == {
        "tools": (3, 3, [stuck.task_id, expiring.task_id, outdated.task_id])
    }


def test_a_pool_scales_to_zero_after_its_idle_time_and_back_with_the_next_run() -> None:
    # given a full pool whose image was last asked for at noon
    world = World()
    tools = image(warm=2, idle=600)
    first, second = world.start(tools), world.start(tools)
    world.pools.claim(tools, "e" * 32, 256, 512)  # a run at 12:00, demand noted
    # when 10 minutes pass with no run
    world.clock.advance(599)
    assert world.plan(tools)["tools"][0] == 2
    world.clock.advance(1)
    # then the pool is idle: its ready task is stopped, nothing started
    assert world.plan(tools) == {"tools": (0, 0, [second.task_id])}
    world.pools.finish(second, WarmState.DEAD)
    # when the next run comes, it starts cold (nothing ready) but wakes the pool
    assert world.pools.claim(tools, "d" * 32, 256, 512) is None
    assert world.plan(tools) == {"tools": (2, 2, [])}
    assert first.task_id not in world.plan(tools)["tools"][2]  # the claimed run is left be


def test_idle_counts_from_the_registration_when_no_run_ever_came() -> None:
    world = World()
    tools = image(warm=2, idle=3600, registered_at="2026-01-01T11:00:00.000Z")  # clock: 12:00
    assert is_idle(tools, None, world.clock.now())
    assert not is_idle(tools, utc_iso(world.clock.now()), world.clock.now())
    assert world.plan(tools) == {"tools": (0, 0, [])}


def test_the_budget_is_shared_across_pools_the_neediest_first() -> None:
    world = World(budget=5)
    a, b, c = image("a", warm=4), image("b", warm=2), image("c", warm=0)
    world.start(a)
    for pool in (a, b, c):
        world.pool.note_demand(pool.name, utc_iso(world.clock.now()))
    # 1 live, room for 4: a misses 3, b 2 -> a, a, b, then a tie (1 each) by name: a
    plans = world.plan(a, b, c)
    assert plans == {"a": (4, 3, []), "b": (2, 1, []), "c": (0, 0, [])}


def test_a_lowered_budget_stops_tasks_of_the_largest_pools() -> None:
    world = World(budget=2)
    a, b = image("a", warm=3), image("b", warm=1)
    for pool in (a, b):
        world.pool.note_demand(pool.name, utc_iso(world.clock.now()))
    a_tasks = [world.start(a) for _ in range(3)]
    world.start(b)
    plans = world.plan(a, b)
    assert plans["a"][1] == 0 and plans["b"][1] == 0
    assert plans["a"][2] == [a_tasks[0].task_id, a_tasks[1].task_id]
    assert plans["b"][2] == []


def test_only_a_run_of_the_images_own_size_claims_and_every_run_is_demand() -> None:
    world = World()
    tools = image(warm=1)
    world.start(tools)
    world.clock.advance(30)
    assert world.pools.claim(tools, "e" * 32, 512, 1024) is None
    assert world.pool.last_demand("tools") == utc_iso(world.clock.now())
    assert world.pools.claim(tools, "e" * 32, 256, 512) is not None


def test_an_image_without_a_pool_claims_nothing_and_notes_no_demand() -> None:
    world = World()
    plain = image(warm=0)
    assert world.pools.claim(plain, "e" * 32, 256, 512) is None
    assert world.pool.last_demand(plain.name) is None
    assert world.plan(plain) == {"tools": (0, 0, [])}
