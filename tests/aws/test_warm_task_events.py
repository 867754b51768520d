"""The task-events function and warm tasks (docs/warm-runners.md), on moto: RUNNING makes a
warm task ready; STOPPED ends it, and when it held a run, ends the run as a cold task's
end would (FAILED when its agent died, with the lock freed)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from warm_world import TASK_ID, warm_run_holding_prod

from events import ecs_task_event
from lambda_harness import Lambdas
from moto_aws import REGION
from orchestrator.adapters.aws.clients import AwsClients
from orchestrator.adapters.aws.composition import warm_pool
from orchestrator.adapters.aws.s3_mailbox import mailbox_key
from orchestrator.adapters.aws.s3_results import result_key
from orchestrator.agent.layout import AGENT_CONTAINER, AGENT_EXIT_NO_ASSIGNMENT
from orchestrator.domain.warm_tasks import WarmState, WarmTask
from orchestrator.ports import WarmPool

ARN = "arn:aws:ecs:eu-west-1:123456789012:task/mycli/" + "b" * 32


@pytest.fixture
def pool(lambdas: Lambdas) -> WarmPool:
    return warm_pool(lambdas.settings, AwsClients())


def warm_event(lambdas: Lambdas, arn: str, status: str, agent_exit: int | None) -> dict[str, Any]:
    event = ecs_task_event(
        task_arn=arn,
        cluster_arn=lambdas.settings.cluster,
        started_by=f"w-{TASK_ID}",
        last_status=status,
        exit_code=0 if status == "STOPPED" else None,
        stop_code="EssentialContainerExited" if status == "STOPPED" else None,
    )
    if status == "STOPPED":
        agent: dict[str, Any] = {"name": AGENT_CONTAINER, "lastStatus": "STOPPED"}
        if agent_exit is not None:
            agent["exitCode"] = agent_exit
        event["detail"]["containers"].append(agent)
    return event


def test_a_warm_tasks_running_event_makes_it_ready_and_its_unassigned_stop_dead(
    lambdas: Lambdas, pool: WarmPool
) -> None:
    # Given a warm task the pool manager registered as starting
    pool.register(
        WarmTask(
            task_id=TASK_ID,
            image="tools",
            state=WarmState.STARTING,
            mailbox=mailbox_key(TASK_ID),
            platform_ref=lambdas.settings.task_definition,
            started_at="2026-12-06T10:00:00.000Z",
            usable_until="2999-01-01T00:00:00.000Z",
        )
    )

    # When its RUNNING event comes: then it is ready, with its ARN
    answer = lambdas.invoke("task_events", warm_event(lambdas, ARN, "RUNNING", None))
    assert answer == {"warm_task": TASK_ID, "state": "ready"}
    task = pool.get(TASK_ID)
    assert task is not None and (task.state, task.task_ref) == (WarmState.READY, ARN)

    # When it stops unassigned (its mailbox expired): then it is dead, and no run is touched
    stopped = warm_event(lambdas, ARN, "STOPPED", AGENT_EXIT_NO_ASSIGNMENT)
    assert lambdas.invoke("task_events", stopped) == {"warm_task": TASK_ID, "state": "dead"}
    assert pool.get(TASK_ID).state is WarmState.DEAD  # type: ignore[union-attr]
    # and its replay changes nothing
    assert lambdas.invoke("task_events", stopped) == {"warm_task": TASK_ID, "state": None}


@pytest.mark.parametrize(
    ("reported", "agent_exit", "run", "task_state"),
    [
        ({"exit_code": 0}, 0, ("SUCCEEDED", 0), WarmState.DONE),
        (None, 137, ("FAILED", None), WarmState.DEAD),  # the agent was killed mid-run
        # its mailbox expired as it was claimed: the agent never read the assignment
        (None, AGENT_EXIT_NO_ASSIGNMENT, ("FAILED", None), WarmState.DEAD),
    ],
)
def test_a_warm_run_ends_with_its_tasks_stop_as_a_cold_run_would(
    lambdas: Lambdas,
    pool: WarmPool,
    reported: dict[str, Any] | None,
    agent_exit: int | None,
    run: tuple[str, int | None],
    task_state: WarmState,
) -> None:
    # Given a run on `tools` that started on its ready warm task, holding a lock
    arn, execution = warm_run_holding_prod(lambdas, pool)
    assert (execution["start"], execution["task_ref"]) == ("warm", arn)
    assert execution["status"] == "RUNNING"  # its task ran before the run came
    if reported is not None:
        result = {"v": 1, "failure": None, "exit_unknown": None, **reported}
        boto3.client("s3", region_name=REGION).put_object(
            Bucket=lambdas.settings.code_bucket,
            Key=result_key(execution["execution_id"]),
            Body=json.dumps(result).encode(),
        )

    # When the warm task's STOPPED event comes
    lambdas.invoke("task_events", warm_event(lambdas, arn, "STOPPED", agent_exit))
    _, final = lambdas.call("GET", f"/executions/{execution['execution_id']}", lambdas.alice_key)

    # Then the run ended as it would have on a cold task, its lock free, and the task ended
    assert (final["status"], final["exit_code"]) == run, final
    assert final["start"] == "warm"
    if agent_exit == AGENT_EXIT_NO_ASSIGNMENT:
        assert "never read the run's assignment" in final["reason"]
    assert lambdas.call("GET", "/locks", lambdas.alice_key)[1]["locks"] == []
    assert pool.get(TASK_ID).state is task_state  # type: ignore[union-attr]
