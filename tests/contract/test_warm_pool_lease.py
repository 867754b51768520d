"""PoolManagerLease contract (docs/warm-runners.md, The pool manager), on the in-memory lease
and on DynamoDB (moto, each request atomic as DynamoDB's are): one holder at a time, a
holder asked to run again does so before letting go, an expired lease can be taken."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from concurrent_calls import all_at_once
from fake_warm_pool import InMemoryPoolManagerLease
from moto_aws import REGION
from orchestrator.adapters.aws.dynamodb_warm_lease import DynamoPoolManagerLease

T0 = "2026-12-06T10:00:00.000Z"
T1 = "2026-12-06T10:00:30.000Z"
UNTIL = "2026-12-06T10:01:30.000Z"
LATER = "2026-12-06T10:02:00.000Z"  # past UNTIL: a holder that died


@pytest.fixture(params=["dynamodb", "memory"])
def lease(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        return InMemoryPoolManagerLease()
    settings = request.getfixturevalue("aws")
    return DynamoPoolManagerLease(
        boto3.client("dynamodb", region_name=REGION), settings.warm_tasks_table
    )


def test_one_holder_at_a_time_and_free_again_once_released(lease: Any) -> None:
    assert lease.acquire("a", T0, UNTIL)
    assert not lease.acquire("b", T1, UNTIL)
    assert lease.release("a", UNTIL) is True
    assert lease.acquire("b", T1, UNTIL)


def test_a_holder_asked_again_runs_once_more_then_lets_go(lease: Any) -> None:
    assert not lease.ask_again(T0)  # nobody holds it: the asker may take it
    assert lease.acquire("a", T0, UNTIL)
    assert lease.ask_again(T1) and lease.ask_again(T1)  # two asks: one more run
    assert lease.release("a", UNTIL) is False  # run again, still holding it
    assert not lease.acquire("b", T1, UNTIL)
    assert lease.release("a", UNTIL) is True


def test_an_expired_lease_is_taken_and_its_old_holder_stops(lease: Any) -> None:
    assert lease.acquire("a", T0, UNTIL)
    assert not lease.ask_again(LATER)  # its time is past: nobody to ask
    assert lease.acquire("b", LATER, "2026-12-06T10:03:30.000Z")
    lease.ask_again(LATER)
    assert lease.release("a", UNTIL) is True  # no longer a's: it stops, b runs again
    assert lease.release("b", "2026-12-06T10:03:30.000Z") is False
    lease.drop("b")
    assert lease.acquire("c", LATER, "2026-12-06T10:03:30.000Z")


def test_of_twenty_at_once_one_acquires(lease: Any) -> None:
    won = all_at_once([lambda n=n: lease.acquire(f"h{n}", T0, UNTIL) for n in range(20)])
    assert sum(won) == 1
