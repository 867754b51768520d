"""Creates landing at once in separate Lambda containers (separate ExecutionService
instances, each with its own clients, over DynamoDB and ECS on moto): the running quota
admits exactly its limit, one Idempotency-Key makes one execution and one task, and a run
ended twice at once (its event and the reaper) gives back one place."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import boto3
import botocore.session
import pytest

from concurrent_calls import HeldAt, all_at_once
from moto_aws import REGION
from orchestrator.adapters.aws.clients import AwsClients
from orchestrator.adapters.aws.composition import AwsPorts, build_services
from orchestrator.adapters.aws.settings import AwsSettings
from orchestrator.domain.errors import TooManyExecutions
from orchestrator.domain.executions import ExecutionService, idempotent_execution_id
from orchestrator.domain.models import (
    Caller,
    Execution,
    ExecutionRequest,
    ExecutionStatus,
    Role,
    TaskStateChange,
)

ALICE = Caller("alice@example.com", Role.USER)
BOB = Caller("bob@example.com", Role.USER)
ADMIN = Caller("admin@example.com", Role.ADMIN)
CONTAINERS = 6
SESSION = botocore.session.get_session()


def container(
    settings: AwsSettings,
    *holds: Callable[[Any], Any],
    dynamodb_hold: Callable[[Any], Any] | None = None,
) -> Any:
    """The execution service of one Lambda container: its own clients and adapters, its
    execution store wrapped in `holds` and its DynamoDB client in `dynamodb_hold` (HeldAt)."""
    clients = AwsClients()
    # Its own clients, made here rather than concurrently in the threads, from one session
    # (the service models, loaded once for the test instead of once per container).
    clients.__dict__["_session"] = SESSION
    for name in ("dynamodb", "ecs", "s3", "s3_sigv4", "kms"):
        getattr(clients, name)
    if dynamodb_hold is not None:
        clients.__dict__["dynamodb"] = dynamodb_hold(clients.dynamodb)
    ports = AwsPorts.deferred(settings, clients)
    executions = ports.executions
    for hold in holds:
        executions = hold(executions)
    return build_services(replace(ports, executions=executions), settings).executions


def containers(
    settings: AwsSettings, count: int, step: str, stagger: float = 0.0
) -> list[ExecutionService]:
    """`count` containers whose stores hold at `step` until all of them reach it, then go on
    `stagger` seconds apart."""
    barrier = threading.Barrier(count)
    return [
        container(settings, lambda store, n=n: HeldAt(store, step, barrier, n * stagger))
        for n in range(count)
    ]


def task_arns(aws: AwsSettings) -> list[str]:
    ecs = boto3.client("ecs", region_name=REGION)
    return list(ecs.list_tasks(cluster=aws.cluster)["taskArns"])


def items_of(aws: AwsSettings, execution_id: str) -> list[dict[str, Any]]:
    return list(
        boto3.client("dynamodb", region_name=REGION).query(
            TableName=aws.executions_table,
            KeyConditionExpression="execution_id = :id",
            ExpressionAttributeValues={":id": {"S": execution_id}},
            ConsistentRead=True,
        )["Items"]
    )


def test_creates_counted_at_once_admit_exactly_the_per_user_limit(aws: AwsSettings) -> None:
    # Given a limit of 3 per user, and 6 containers that have all counted before any records
    settings = replace(aws, max_running_per_user=3, max_running_total=50)
    hosts = containers(settings, CONTAINERS, "create")

    # When Alice's 6 creates arrive at once
    results = all_at_once(
        [lambda host=host: host.start(ALICE, ExecutionRequest("x")) for host in hosts]
    )

    # Then exactly 3 start, the others are 429 with the figures, and 3 tasks run
    started = [r for r in results if isinstance(r, Execution)]
    refused = [r for r in results if isinstance(r, TooManyExecutions)]
    assert (len(started), len(refused)) == (3, 3), results
    assert {r.status for r in started} == {ExecutionStatus.STARTING}
    assert all(r.details["running"] == 3 for r in refused)
    assert len(task_arns(aws)) == 3
    assert container(settings).quota(ALICE).running == 3


def test_the_total_limit_holds_across_users_at_once(aws: AwsSettings) -> None:
    settings = replace(aws, max_running_per_user=10, max_running_total=2)
    hosts = containers(settings, CONTAINERS, "create")
    callers = [ALICE, BOB] * (CONTAINERS // 2)

    results = all_at_once(
        [
            lambda host=host, who=who: host.start(who, ExecutionRequest("x"))
            for host, who in zip(hosts, callers, strict=True)
        ]
    )

    started = [r for r in results if isinstance(r, Execution)]
    assert len(started) == 2, results
    assert all(isinstance(r, TooManyExecutions) for r in results if r not in started)
    assert container(settings).quota(ADMIN).total_running == 2


def test_one_key_sent_at_once_to_every_container_makes_one_execution_and_one_task(
    aws: AwsSettings,
) -> None:
    # Given 6 containers that all look the key up before any goes on, then go on 5 ms apart
    # (no two record in the same millisecond), and whose first conditional put waits for
    # the others' (up to half a second)
    looked, putting = threading.Barrier(CONTAINERS), threading.Barrier(CONTAINERS)
    hosts = [
        container(
            aws,
            lambda store, n=n: HeldAt(store, "get", looked, delay=n * 0.005),
            dynamodb_hold=lambda client: HeldAt(client, "put_item", putting, patience=0.5),
        )
        for n in range(CONTAINERS)
    ]
    request = ExecutionRequest("make deploy")

    # When the same create with the same key reaches each of them at once
    results = all_at_once(
        [lambda host=host: host.start(ALICE, request, None, "retry-1") for host in hosts]
    )

    # Then every answer is the one execution, recorded once, with one task
    execution_id = idempotent_execution_id(ALICE.email, "retry-1")
    assert all(isinstance(r, Execution) for r in results), results
    assert {r.execution_id for r in results} == {execution_id}
    assert len(items_of(aws, execution_id)) == 1
    assert len(task_arns(aws)) == 1


def test_a_run_ended_by_its_event_and_the_reaper_at_once_gives_back_one_place(
    aws: AwsSettings,
) -> None:
    # Given Alice at her limit of 2
    settings = replace(aws, max_running_per_user=2, max_running_total=50)
    first = container(settings).start(ALICE, ExecutionRequest("x"))
    container(settings).start(ALICE, ExecutionRequest("x"))

    # When its STOPPED event and the reaper end the first at once, and both are replayed
    event_host, reaper_host = container(settings), container(settings)
    all_at_once(
        [
            lambda: event_host.on_task_event(stopped(first)),
            lambda: reaper_host.finish(first.execution_id, ExecutionStatus.FAILED, reason="lost"),
        ]
    )
    event_host.on_task_event(stopped(first))
    reaper_host.finish(first.execution_id, ExecutionStatus.FAILED, reason="lost")

    # Then one place came back: she runs one, and of 6 more creates at once exactly 1 passes
    assert container(settings).quota(ALICE).running == 1
    results = all_at_once(
        [
            lambda host=host: host.start(ALICE, ExecutionRequest("y"))
            for host in containers(settings, CONTAINERS, "create")
        ]
    )
    assert sum(isinstance(r, Execution) for r in results) == 1, results
    assert container(settings).quota(ALICE).running == 2


def ended_by_its_event(settings: AwsSettings) -> Any:
    host = container(settings)
    run = host.start(ALICE, ExecutionRequest("x"))
    return host.on_task_event(stopped(run))


def ended_by_the_reaper(settings: AwsSettings) -> Any:
    host = container(settings)
    run = host.start(ALICE, ExecutionRequest("x"))
    return host.finish(run.execution_id, ExecutionStatus.FAILED, reason="task lost")


def ended_by_a_cancel(settings: AwsSettings) -> Any:
    host = container(settings)
    run = host.start(ALICE, ExecutionRequest("x"))
    host.cancel(ALICE, run.execution_id)
    return host.on_task_event(stopped(run))


def ended_by_a_failed_launch(settings: AwsSettings) -> Any:
    missing = settings.task_definition.rsplit(":", 1)[0] + ":999"
    return container(replace(settings, task_definition=missing)).start(ALICE, ExecutionRequest("x"))


def stopped(run: Execution) -> TaskStateChange:
    return TaskStateChange(
        execution_id=run.execution_id, last_status="STOPPED", task_ref=run.task_ref, exit_code=0
    )


@pytest.mark.parametrize(
    "ending",
    [ended_by_its_event, ended_by_the_reaper, ended_by_a_cancel, ended_by_a_failed_launch],
)
def test_each_way_a_run_ends_gives_its_place_back(
    aws: AwsSettings, ending: Callable[[AwsSettings], Execution]
) -> None:
    # Given a limit of one per user, and Alice's one run ended
    settings = replace(aws, max_running_per_user=1, max_running_total=50)
    ended = ending(settings)
    assert ended.status.is_terminal, ended

    # When 6 creates of hers arrive at once, Then exactly one fits
    results = all_at_once(
        [
            lambda host=host: host.start(ALICE, ExecutionRequest("y"))
            for host in containers(settings, CONTAINERS, "create")
        ]
    )
    assert sum(isinstance(r, Execution) for r in results) == 1, results
