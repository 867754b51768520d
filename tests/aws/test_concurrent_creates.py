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


def container(settings: AwsSettings, *holds: Callable[[Any], Any]) -> Any:
    """The execution service of one Lambda container: its own clients and adapters, its
    execution store wrapped in `holds` (HeldAt)."""
    clients = AwsClients()
    # Its own clients, made here rather than concurrently in the threads, from one session
    # (the service models, loaded once for the test instead of once per container).
    clients.__dict__["_session"] = SESSION
    for name in ("dynamodb", "ecs", "s3", "s3_sigv4", "kms"):
        getattr(clients, name)
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
    # (no two record in the same millisecond), and wait for each other before they record
    # (up to half a second)
    looked, recording = threading.Barrier(CONTAINERS), threading.Barrier(CONTAINERS)
    hosts = [
        container(
            aws,
            lambda store, n=n: HeldAt(store, "get", looked, delay=n * 0.005),
            lambda store: HeldAt(store, "create", recording, patience=0.5),
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
    stopped = TaskStateChange(
        execution_id=first.execution_id,
        last_status="STOPPED",
        task_ref=first.task_ref,
        exit_code=0,
    )

    # When its STOPPED event and the reaper end the first at once, and both are replayed
    event_host, reaper_host = container(settings), container(settings)
    all_at_once(
        [
            lambda: event_host.on_task_event(stopped),
            lambda: reaper_host.finish(first.execution_id, ExecutionStatus.FAILED, reason="lost"),
        ]
    )
    event_host.on_task_event(stopped)
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


@pytest.mark.parametrize("status", [ExecutionStatus.SUCCEEDED, ExecutionStatus.CANCELLED])
def test_every_path_that_ends_a_run_frees_its_place(
    aws: AwsSettings, status: ExecutionStatus
) -> None:
    settings = replace(aws, max_running_per_user=1, max_running_total=50)
    host = container(settings)
    first = host.start(ALICE, ExecutionRequest("x"))
    if status is ExecutionStatus.CANCELLED:
        host.cancel(ALICE, first.execution_id)
    host.finish(first.execution_id, status)

    assert host.quota(ALICE).running == 0
    assert host.start(ALICE, ExecutionRequest("x")).status is ExecutionStatus.STARTING
