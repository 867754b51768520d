"""Pools refilled within seconds (docs/warm-runners.md), on moto: a create on an image with a
pool, and a warm task's STOPPED event, invoke the pool manager asynchronously; an invoke
that fails (moto holds no such function) fails neither the create nor the event."""

from __future__ import annotations

import json
from typing import Any

import pytest
from warm_world import TASK_ID, ready_task, tools

from events import ecs_task_event
from lambda_harness import Lambdas
from moto_aws import WARM_POOL_FUNCTION
from orchestrator.adapters.aws.clients import AwsClients
from orchestrator.adapters.aws.composition import warm_pool
from orchestrator.domain.warm_tasks import WarmState
from orchestrator.ports import WarmPool


@pytest.fixture
def pool(lambdas: Lambdas) -> WarmPool:
    return warm_pool(lambdas.settings, AwsClients())


@pytest.fixture
def invokes(lambdas: Lambdas) -> list[dict[str, Any]]:
    """Every Invoke request the functions' Lambda client sends (each then fails on moto:
    ResourceNotFoundException, as for a pool manager that is not there)."""
    from orchestrator.handlers.runtime import clients

    requests: list[dict[str, Any]] = []
    clients().lambda_.meta.events.register(
        "provide-client-params.lambda.Invoke", lambda params, **_: requests.append(params)
    )
    return requests


def asked(invokes: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [
        (i["FunctionName"], i["InvocationType"], json.loads(i["Payload"])["reason"])
        for i in invokes
    ]


def create(lambdas: Lambdas, image: str = "tools") -> dict[str, Any]:
    status, execution = lambdas.call(
        "POST", "/executions", lambdas.alice_key, body={"command": "make", "image": image}
    )
    assert status == 202, execution
    return dict(execution)


def test_a_claim_invokes_the_pool_manager_and_a_failed_invoke_fails_nothing(
    lambdas: Lambdas, pool: WarmPool, invokes: list[dict[str, Any]]
) -> None:
    # Given an image with a ready warm task
    tools(lambdas.settings)
    arn = ready_task(lambdas.settings, pool)

    # When a run claims it (the invoke fails: moto holds no pool manager)
    execution = create(lambdas)

    # Then the run started warm all the same, and the pool manager was asked, once,
    # asynchronously, to refill
    assert (execution["start"], execution["task_ref"]) == ("warm", arn)
    assert asked(invokes) == [(WARM_POOL_FUNCTION, "Event", "claim")]

    # When a second run finds the pool empty: it starts cold, and asks again (demand wakes
    # an idle pool at once)
    assert create(lambdas)["start"] == "cold"
    assert asked(invokes)[1:] == [(WARM_POOL_FUNCTION, "Event", "demand")]


def test_a_run_on_an_image_without_a_pool_invokes_nothing(
    lambdas: Lambdas, invokes: list[dict[str, Any]]
) -> None:
    tools(lambdas.settings, warm=0)
    assert create(lambdas)["start"] == "cold"
    assert invokes == []


def test_a_warm_tasks_stop_invokes_the_pool_manager_once(
    lambdas: Lambdas, pool: WarmPool, invokes: list[dict[str, Any]]
) -> None:
    # Given a ready warm task
    tools(lambdas.settings)
    arn = ready_task(lambdas.settings, pool)
    stopped = ecs_task_event(
        task_arn=arn,
        cluster_arn=lambdas.settings.cluster,
        started_by=f"w-{TASK_ID}",
        last_status="STOPPED",
        exit_code=6,
        stop_code="EssentialContainerExited",
    )

    # When it stops (the invoke fails): then its record is dead and the manager was asked
    answer = lambdas.invoke("task_events", stopped)
    assert answer == {"warm_task": TASK_ID, "state": "dead"}
    assert pool.get(TASK_ID).state is WarmState.DEAD  # type: ignore[union-attr]
    assert asked(invokes) == [(WARM_POOL_FUNCTION, "Event", "stopped")]
    # and a replay of the event asks nothing more
    lambdas.invoke("task_events", stopped)
    assert len(invokes) == 1
