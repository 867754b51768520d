"""The ECS runner and the reaper against moto: what RunTask's request carries (the run task
definition, only the agent's execution id and manifest URL: never a command, env, stdin or
secret), the manifest (version 2) it points to, exit codes that reach the record without
their event (from the agent's result), and tasks started but never recorded."""

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
from orchestrator.adapters.aws.s3_results import result_key
from orchestrator.adapters.aws.settings import AwsSettings
from orchestrator.adapters.aws.task_layout import (
    MAX_OVERRIDES_CHARS,
    MAX_SEALED_CHUNK_BYTES,
    manifest_key,
)
from orchestrator.agent.layout import AGENT_CONTAINER, COMMAND_CONTAINER
from orchestrator.agent.manifest import Unsealed, parse_manifest
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


def manifest_of(aws: AwsSettings, execution_id: str) -> Any:
    body = boto3.client("s3", region_name=REGION).get_object(
        Bucket=aws.code_bucket, Key=manifest_key(execution_id)
    )["Body"]
    return parse_manifest(body.read())


@pytest.mark.parametrize(
    ("command", "env"),
    [
        ("echo hi", {}),
        ("x" * MAX_COMMAND_LENGTH, {}),  # too long for the overrides on its own
        ("y" * 2500, {f"V{n}": "v" * 400 for n in range(10)}),  # the 8,652 chars
        ("z" * 3000, {"Q": "'" * 8000, "R": "r" * 8000}),  # ~16 KB sealed, in pieces
    ],
)
def test_every_run_is_the_run_task_with_only_the_agents_id_and_manifest_url(
    aws: AwsSettings,
    runner: EcsRunner,
    run_task_requests: list[dict[str, Any]],
    command: str,
    env: dict[str, str],
) -> None:
    runner.launch(LaunchSpec("e1", command, env, 60))

    [request] = run_task_requests
    assert size_of(request) <= MAX_OVERRIDES_CHARS
    assert request["taskDefinition"] == aws.task_definition
    [override] = request["overrides"]["containerOverrides"]
    assert override["name"] == AGENT_CONTAINER and set(override) == {"name", "environment"}
    variables = {v["name"]: v["value"] for v in override["environment"]}
    assert set(variables) == {"MYCLI_EXECUTION_ID", "MYCLI_MANIFEST_URL"}
    assert variables["MYCLI_EXECUTION_ID"] == "e1"
    assert f"/{manifest_key('e1')}?" in variables["MYCLI_MANIFEST_URL"]
    assert command not in json.dumps(request) and "v" * 400 not in json.dumps(request)
    manifest = manifest_of(aws, "e1")
    assert manifest.command == command
    plaintext = Unsealed(env=env, mask=[]).to_json()
    expected_pieces = -(-len(plaintext) // MAX_SEALED_CHUNK_BYTES) if env else 0
    assert len(manifest.sealed) == expected_pieces
    assert (manifest.grant_token is not None) == bool(env)


def test_the_manifest_gives_the_agent_its_output_slot_and_the_log_cap(
    aws: AwsSettings, runner: EcsRunner
) -> None:
    runner.launch(LaunchSpec("e1", "echo hi", {}, 60))

    manifest = manifest_of(aws, "e1")
    assert manifest.execution_id == "e1"
    assert manifest.output.prefix == "runs/e1/output/"
    assert manifest.output.fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    assert manifest.output.fields["key"] == "runs/e1/output/${filename}"
    assert manifest.max_log_bytes == aws.max_log_bytes
    assert manifest.sealed == [] and manifest.git is None and manifest.stdin_url is None


def test_stdin_goes_through_the_manifest_and_run_task_carries_none_of_it(
    aws: AwsSettings, runner: EcsRunner, run_task_requests: list[dict[str, Any]]
) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_object(Bucket=aws.code_bucket, Key="uploads/abc/stdin1", Body=b"secret-input-bytes")

    runner.launch(LaunchSpec("e1", "wc -c", {}, 60, stdin_location="uploads/abc/stdin1"))

    [request] = run_task_requests
    assert request["taskDefinition"] == aws.task_definition
    assert "secret-input-bytes" not in json.dumps(request)
    assert "uploads/abc/stdin1" not in json.dumps(request)
    assert "/uploads/abc/stdin1?" in str(manifest_of(aws, "e1").stdin_url)


def test_the_recorded_log_stream_is_the_agents_operator_copy(runner: EcsRunner) -> None:
    launched = runner.launch(LaunchSpec("e1", "echo hi", {}, 60))

    task_id = launched.task_ref.rsplit("/", 1)[-1]
    assert launched.log_stream_name == f"exec/{AGENT_CONTAINER}/{task_id}"
    assert launched.start == "cold"  # by RunTask: the plain runner has no warm tasks


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


def stop_in_moto(aws: AwsSettings, task_arn: str, agent: int | None, command: int | None) -> None:
    task = moto_task(aws, task_arn)
    task.last_status = "STOPPED"
    codes = {AGENT_CONTAINER: agent, COMMAND_CONTAINER: command}
    for container in task.containers:
        container.exitCode = codes[container.name]


def test_a_stopped_task_whose_event_never_came_keeps_the_agents_exit_code(
    aws: AwsSettings, runner: EcsRunner, service: tuple[ExecutionService, FakeClock]
) -> None:
    executions, clock = service
    execution = executions.start(ALICE, ExecutionRequest("exit 3", lock="prod"))
    assert execution.task_ref is not None
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=aws.code_bucket,
        Key=result_key(execution.execution_id),
        Body=json.dumps({"v": 1, "exit_code": 3, "git_commit": None, "failure": None}),
    )
    stop_in_moto(aws, execution.task_ref, agent=0, command=3)

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


def test_a_stopped_task_without_a_result_settles_as_the_agent_stopped(
    aws: AwsSettings, runner: EcsRunner, service: tuple[ExecutionService, FakeClock]
) -> None:
    executions, clock = service
    execution = executions.start(ALICE, ExecutionRequest("sleep 9", lock="prod"))
    assert execution.task_ref is not None
    stop_in_moto(aws, execution.task_ref, agent=137, command=143)

    report = reaper(aws, runner, executions, clock).run()

    final = executions.get(ALICE, execution.execution_id)
    assert report.settled == [execution.execution_id]
    assert (final.status, final.exit_code, final.reason) == (
        ExecutionStatus.FAILED,
        None,
        "the run agent stopped (exit code 137)",
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
    # A dead function cleans nothing up (a raised error would stop the task and free the lock).
    monkeypatch.setattr(executions._launcher, "_abandon", lambda execution, launched: None)
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
