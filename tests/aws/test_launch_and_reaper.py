"""The ECS runner and the reaper against moto: what RunTask's request carries (never more
than ECS's override limit, never a command's env or stdin), exit codes that reach the
record without their event, and tasks started but never recorded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ecs.models import ecs_backends

from fakes import FakeClock, FakeLogReader
from moto_aws import REGION
from orchestrator.adapters.aws.clients import AwsClients
from orchestrator.adapters.aws.composition import ecs_tasks
from orchestrator.adapters.aws.dynamodb import DynamoExecutionStore, DynamoLockStore
from orchestrator.adapters.aws.ecs import EcsRunner
from orchestrator.adapters.aws.kms_env import env_file
from orchestrator.adapters.aws.run_inputs import manifest_key
from orchestrator.adapters.aws.settings import AwsSettings
from orchestrator.adapters.aws.task_layout import MAX_OVERRIDES_CHARS, MAX_SEALED_CHUNK_BYTES
from orchestrator.domain.executions import ExecutionService
from orchestrator.domain.models import (
    MAX_COMMAND_LENGTH,
    Caller,
    ExecutionRequest,
    ExecutionStatus,
    LaunchSpec,
    Role,
)
from orchestrator.domain.reaper import Reaper

ALICE = Caller("alice@example.com", Role.USER)


@pytest.fixture
def runner(aws: AwsSettings) -> EcsRunner:
    return ecs_tasks(aws, AwsClients())


@pytest.fixture
def run_task_requests(runner: EcsRunner) -> Iterator[list[dict[str, Any]]]:
    """Every RunTask request's parameters, exactly as boto3 sends them."""
    requests: list[dict[str, Any]] = []
    ecs = runner._ecs
    ecs.meta.events.register(
        "provide-client-params.ecs.RunTask", lambda params, **_: requests.append(params)
    )
    yield requests


def size_of(request: dict[str, Any]) -> int:
    return len(json.dumps(request["overrides"]))


@pytest.mark.parametrize(
    ("command", "env"),
    [
        ("x" * MAX_COMMAND_LENGTH, {}),  # too long for the overrides on its own
        ("y" * 2500, {f"V{n}": "v" * 400 for n in range(10)}),  # the 8,652 chars
        ("z" * 3000, {"Q": "'" * 8000, "R": "r" * 8000}),  # quoting makes it ~48 KB sealed
    ],
)
def test_commands_and_env_up_to_the_limits_reach_the_task_outside_the_overrides(
    aws: AwsSettings,
    runner: EcsRunner,
    run_task_requests: list[dict[str, Any]],
    command: str,
    env: dict[str, str],
) -> None:
    runner.launch(LaunchSpec("e1", command, env, 60))

    [request] = run_task_requests
    assert size_of(request) <= MAX_OVERRIDES_CHARS
    assert request["taskDefinition"] == aws.prepared_task_definition
    assert command not in json.dumps(request) and "v" * 400 not in json.dumps(request)
    body = boto3.client("s3", region_name=REGION).get_object(
        Bucket=aws.code_bucket, Key=manifest_key("e1")
    )["Body"]
    manifest = json.loads(body.read())
    assert manifest["command"] == command
    pieces = -(-len(env_file(env)) // MAX_SEALED_CHUNK_BYTES)
    assert len(manifest.get("sealed_env", [])) == pieces


def test_a_short_plain_command_stays_in_the_overrides(
    aws: AwsSettings, runner: EcsRunner, run_task_requests: list[dict[str, Any]]
) -> None:
    runner.launch(LaunchSpec("e1", "echo hi", {}, 60))

    [request] = run_task_requests
    assert request["taskDefinition"] == aws.task_definition
    [override] = request["overrides"]["containerOverrides"]
    assert override["command"] == ["sh", "-c", "echo hi"]


def test_stdin_goes_through_the_manifest_and_run_task_carries_none_of_it(
    aws: AwsSettings, runner: EcsRunner, run_task_requests: list[dict[str, Any]]
) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_object(Bucket=aws.code_bucket, Key="uploads/abc/stdin1", Body=b"secret-input-bytes")

    runner.launch(LaunchSpec("e1", "wc -c", {}, 60, stdin_location="uploads/abc/stdin1"))

    [request] = run_task_requests
    assert request["taskDefinition"] == aws.prepared_task_definition
    assert "secret-input-bytes" not in json.dumps(request)
    assert "uploads/abc/stdin1" not in json.dumps(request)
    manifest = json.loads(
        s3.get_object(Bucket=aws.code_bucket, Key=manifest_key("e1"))["Body"].read()
    )
    assert "/uploads/abc/stdin1?" in manifest["stdin_url"]


@pytest.fixture
def service(aws: AwsSettings, runner: EcsRunner) -> tuple[ExecutionService, FakeClock]:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    clock = FakeClock()
    return (
        ExecutionService(
            DynamoExecutionStore(dynamodb, aws.executions_table),
            DynamoLockStore(dynamodb, aws.locks_table),
            runner,
            FakeLogReader(),
            clock,
        ),
        clock,
    )


def moto_task(aws: AwsSettings, task_arn: str) -> Any:
    backend = ecs_backends[DEFAULT_ACCOUNT_ID][REGION]
    return backend.tasks[aws.cluster.rsplit("/", 1)[-1]][task_arn]


def reaper(aws: AwsSettings, runner: EcsRunner, service: ExecutionService, clock: Any) -> Reaper:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    executions = DynamoExecutionStore(dynamodb, aws.executions_table)
    return Reaper(executions, runner, service, clock, tasks=runner)


def test_a_stopped_task_whose_event_never_came_keeps_its_exit_code(
    aws: AwsSettings, runner: EcsRunner, service: tuple[ExecutionService, FakeClock]
) -> None:
    executions, clock = service
    execution = executions.start(ALICE, ExecutionRequest("exit 3", lock="prod"))
    assert execution.task_ref is not None
    task = moto_task(aws, execution.task_ref)
    task.last_status = "STOPPED"
    task.containers[0].exitCode = 3

    report = reaper(aws, runner, executions, clock).run()

    final = executions.get(ALICE, execution.execution_id)
    assert report.settled == [execution.execution_id]
    assert (final.status, final.exit_code, final.reason) == (
        ExecutionStatus.FAILED,
        3,
        "exited with code 3",
    )
    assert (
        DynamoLockStore(boto3.client("dynamodb", region_name=REGION), aws.locks_table).get("prod")
        is None
    )


def test_a_task_gone_from_ecs_is_lost(
    aws: AwsSettings, runner: EcsRunner, service: tuple[ExecutionService, FakeClock]
) -> None:
    executions, clock = service
    execution = executions.start(ALICE, ExecutionRequest("sleep 9"))
    assert execution.task_ref is not None
    backend = ecs_backends[DEFAULT_ACCOUNT_ID][REGION]
    del backend.tasks[aws.cluster.rsplit("/", 1)[-1]][execution.task_ref]

    report = reaper(aws, runner, executions, clock).run()

    assert report.lost == [execution.execution_id]
    assert executions.get(ALICE, execution.execution_id).reason == "task lost"


def test_a_task_started_but_never_recorded_is_stopped_before_its_lock_is_freed(
    aws: AwsSettings,
    runner: EcsRunner,
    service: tuple[ExecutionService, FakeClock],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    executions, clock = service
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    store = DynamoExecutionStore(dynamodb, aws.executions_table)
    # As if the create function died right after RunTask: a task, no record of it.
    died_for: list[str] = []

    def dies(execution_id: str, **fields: object) -> None:
        died_for.append(execution_id)
        raise RuntimeError("the function died")

    monkeypatch.setattr(executions._executions, "annotate", dies)
    with pytest.raises(RuntimeError):
        executions.start(ALICE, ExecutionRequest("sleep 600", lock="prod"))
    monkeypatch.undo()
    [execution_id] = died_for
    ecs = boto3.client("ecs", region_name=REGION)
    [orphan] = ecs.list_tasks(cluster=aws.cluster, startedBy=execution_id)["taskArns"]

    assert reaper(aws, runner, executions, clock).run().lost == []  # still in its grace
    clock.advance(301)
    report = reaper(aws, runner, executions, clock).run()

    [task] = ecs.describe_tasks(cluster=aws.cluster, tasks=[orphan])["tasks"]
    assert report.lost == [execution_id]
    assert task["lastStatus"] == "STOPPED"
    assert task["stoppedReason"] == "mycli: its execution never recorded this task"
    assert store.get(execution_id).reason == "never started"  # type: ignore[union-attr]
    assert DynamoLockStore(dynamodb, aws.locks_table).get("prod") is None
