"""WarmPool contract (docs/warm-runners.md), on the in-memory pool and on DynamoDB (moto):
states move only forward, a ready task goes to one claimer, an execution gets one task."""

from __future__ import annotations

from typing import Any

import pytest

from concurrent_calls import all_at_once
from orchestrator.domain.errors import Conflict
from orchestrator.domain.warm_tasks import WarmState, WarmTask

TD = "arn:aws:ecs:eu-west-1:123456789012:task-definition/mycli-image-tools:3"
STARTED = "2026-12-06T10:00:00.000Z"
NOW = "2026-12-06T10:05:00.000Z"
USABLE_UNTIL = "2026-12-06T11:00:00.000Z"


def task(n: int, image: str = "tools", **fields: Any) -> WarmTask:
    values: dict[str, Any] = {
        "task_id": f"{n:032x}",
        "image": image,
        "state": WarmState.STARTING,
        "mailbox": f"warm/{n:032x}/assignment",
        "platform_ref": TD,
        "started_at": STARTED,
        "usable_until": USABLE_UNTIL,
    }
    return WarmTask(**(values | fields))


def ready(pool: Any, n: int, image: str = "tools", **fields: Any) -> WarmTask:
    pool.register(task(n, image, **fields))
    made = pool.mark_ready(f"{n:032x}", f"arn:aws:ecs:task/{n}", NOW)
    assert made is not None
    return made


def claim(pool: Any, execution_id: str, image: str = "tools", **options: Any) -> WarmTask | None:
    values = {"platform_ref": TD, "usable_after": NOW, "at": NOW} | options
    result: WarmTask | None = pool.claim(image, execution_id, **values)
    return result


def test_a_registered_task_is_starting_then_ready_with_its_task(warm_pool: Any) -> None:
    # given a task the pool manager starts
    warm_pool.register(task(1))
    assert warm_pool.get(task(1).task_id) == task(1)
    # when its containers run
    made = warm_pool.mark_ready(task(1).task_id, "arn:aws:ecs:task/1", NOW)
    # then it is ready, with its ECS task; it cannot become ready twice
    assert made is not None and made.state is WarmState.READY
    assert (made.task_ref, made.ready_at) == ("arn:aws:ecs:task/1", NOW)
    assert warm_pool.get(task(1).task_id) == made
    assert warm_pool.mark_ready(task(1).task_id, "arn:aws:ecs:task/9", NOW) is None
    assert warm_pool.mark_ready("f" * 32, "arn:aws:ecs:task/9", NOW) is None


def test_a_task_id_is_registered_once(warm_pool: Any) -> None:
    warm_pool.register(task(1))
    with pytest.raises(Conflict):
        warm_pool.register(task(1, mailbox="elsewhere"))
    assert warm_pool.get(task(1).task_id) == task(1)


def test_a_claim_takes_a_ready_task_for_the_execution(warm_pool: Any) -> None:
    # given one ready task and one still starting
    ready(warm_pool, 1)
    warm_pool.register(task(2))
    # when a run claims one
    claimed = claim(warm_pool, "e" * 32)
    # then it gets the ready one, assigned to it
    assert claimed is not None and claimed.task_id == task(1).task_id
    assert claimed.state is WarmState.ASSIGNED
    assert (claimed.execution_id, claimed.claimed_at) == ("e" * 32, NOW)
    assert warm_pool.get(task(1).task_id) == claimed
    # and a second run finds none ready
    assert claim(warm_pool, "d" * 32) is None


def test_a_repeated_claim_of_an_execution_gets_the_same_task(warm_pool: Any) -> None:
    ready(warm_pool, 1)
    ready(warm_pool, 2)
    first = claim(warm_pool, "e" * 32)
    again = claim(warm_pool, "e" * 32)
    assert first is not None and again is not None
    assert again.task_id == first.task_id
    assert warm_pool.counts("tools")[WarmState.READY] == 1


@pytest.mark.parametrize(
    ("options", "why"),
    [
        ({"image": "other"}, "another image's pool"),
        ({"platform_ref": TD.replace(":3", ":4")}, "started from another task definition"),
        ({"usable_after": USABLE_UNTIL}, "its mailbox expires too soon"),
    ],
)
def test_a_claim_takes_no_task_that_does_not_fit(
    warm_pool: Any, options: dict[str, Any], why: str
) -> None:
    ready(warm_pool, 1)
    assert claim(warm_pool, "e" * 32, **options) is None, why
    assert warm_pool.get(task(1).task_id).state is WarmState.READY


def test_a_task_without_a_platform_ref_fits_only_such_a_claim(warm_pool: Any) -> None:
    ready(warm_pool, 1, platform_ref=None)
    assert claim(warm_pool, "e" * 32) is None
    claimed = claim(warm_pool, "e" * 32, platform_ref=None)
    assert claimed is not None and claimed.task_id == task(1).task_id


def test_twenty_claimers_against_five_ready_tasks(warm_pool: Any) -> None:
    # given 5 ready tasks of the image (and one of another image)
    for n in range(1, 6):
        ready(warm_pool, n)
    ready(warm_pool, 99, image="other")
    executions = [f"{n:02d}" + "e" * 30 for n in range(20)]
    # when 20 runs claim at the same moment
    results = all_at_once([lambda e=e: claim(warm_pool, e) for e in executions])
    # then exactly 5 get a task: none twice, and no execution two
    assert not [r for r in results if isinstance(r, Exception)]
    won = [(execution, r) for execution, r in zip(executions, results, strict=True) if r]
    assert len(won) == 5
    assert len({r.task_id for _, r in won}) == 5
    assert len({execution for execution, _ in won}) == 5
    assert all(r.execution_id == execution for execution, r in won)
    # and the records agree: 5 assigned, each to the execution that won it
    for execution, r in won:
        assert warm_pool.get(r.task_id).execution_id == execution
    assert warm_pool.counts("tools") == {
        WarmState.STARTING: 0,
        WarmState.READY: 0,
        WarmState.ASSIGNED: 5,
    }
    assert warm_pool.counts("other")[WarmState.READY] == 1


def test_one_execution_claiming_from_many_hosts_gets_one_task(warm_pool: Any) -> None:
    for n in range(1, 6):
        ready(warm_pool, n)
    results = all_at_once([lambda: claim(warm_pool, "e" * 32) for _ in range(8)])
    assert not [r for r in results if isinstance(r, Exception)]
    assert len({r.task_id for r in results if r is not None}) == 1
    assert warm_pool.counts("tools")[WarmState.ASSIGNED] == 1


def test_a_task_ends_once(warm_pool: Any) -> None:
    ready(warm_pool, 1)
    claim(warm_pool, "e" * 32)
    ended = warm_pool.finish(task(1).task_id, WarmState.DONE, NOW)
    assert ended is not None and ended.state is WarmState.DONE
    assert (ended.ended_at, ended.execution_id) == (NOW, "e" * 32)
    assert warm_pool.finish(task(1).task_id, WarmState.DEAD, NOW) is None
    assert warm_pool.get(task(1).task_id).state is WarmState.DONE
    assert warm_pool.finish("f" * 32, WarmState.DEAD, NOW) is None
    with pytest.raises(ValueError):
        warm_pool.finish(task(1).task_id, WarmState.READY, NOW)


def test_a_dead_task_is_not_claimed(warm_pool: Any) -> None:
    ready(warm_pool, 1)
    warm_pool.finish(task(1).task_id, WarmState.DEAD, NOW)
    assert claim(warm_pool, "e" * 32) is None
    assert warm_pool.mark_ready(task(1).task_id, "arn:aws:ecs:task/1", NOW) is None


def test_open_tasks_and_counts_by_image(warm_pool: Any) -> None:
    ready(warm_pool, 1, started_at="2026-12-06T10:00:02.000Z")
    warm_pool.register(task(2, started_at="2026-12-06T10:00:01.000Z"))
    ready(warm_pool, 3)
    claim(warm_pool, "e" * 32)
    ready(warm_pool, 4)
    warm_pool.finish(task(4).task_id, WarmState.DEAD, NOW)
    warm_pool.register(task(5, image="other"))
    opened = warm_pool.open_tasks("tools")
    assert [t.task_id for t in opened] == [task(n).task_id for n in (3, 2, 1)]
    assert warm_pool.counts("tools") == {
        WarmState.STARTING: 1,
        WarmState.READY: 1,
        WarmState.ASSIGNED: 1,
    }
    assert warm_pool.open_tasks("none") == []


def test_stale_tasks_starting_too_long_or_expiring(warm_pool: Any) -> None:
    warm_pool.register(task(1, started_at="2026-12-06T09:00:00.000Z"))  # starting too long
    warm_pool.register(task(2, started_at="2026-12-06T10:04:00.000Z"))  # starting, recent
    ready(warm_pool, 3, usable_until="2026-12-06T10:06:00.000Z")  # expiring
    ready(warm_pool, 4)  # fine
    other = TD.replace(":3", ":2")
    ready(warm_pool, 5, usable_until="2026-12-06T10:06:00.000Z", platform_ref=other)
    assert claim(warm_pool, "e" * 32, platform_ref=other) is not None  # 5: a run now
    stale = warm_pool.stale(
        "tools", started_before="2026-12-06T10:00:00.000Z", expiring_before=NOW.replace("05", "07")
    )
    assert [t.task_id for t in stale] == [task(1).task_id, task(3).task_id]


def test_demand_keeps_the_latest(warm_pool: Any) -> None:
    assert warm_pool.last_demand("tools") is None
    warm_pool.note_demand("tools", "2026-12-06T10:00:02.000Z")
    warm_pool.note_demand("tools", "2026-12-06T10:00:01.000Z")
    assert warm_pool.last_demand("tools") == "2026-12-06T10:00:02.000Z"
    assert warm_pool.last_demand("other") is None
    assert warm_pool.open_tasks("tools") == []  # bookkeeping is no task
