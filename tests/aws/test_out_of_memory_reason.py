"""ECS's OutOfMemoryError is kept in the execution's reason, whichever path settles the run:
the task's STOPPED event, or the reaper reading DescribeTasks (moto) when the event never
came. Both carry the containers' `reason`."""

from __future__ import annotations

import copy
import json

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
from orchestrator.adapters.aws.s3_results import S3RunResults, result_key
from orchestrator.adapters.aws.settings import AwsSettings
from orchestrator.adapters.aws.task_events import task_state_change
from orchestrator.agent.layout import AGENT_CONTAINER, COMMAND_CONTAINER
from orchestrator.domain.executions import ExecutionService
from orchestrator.domain.models import Caller, ExecutionRequest, ExecutionStatus, Role
from orchestrator.domain.reaper import Reaper

ALICE = Caller("alice@example.com", Role.USER)
OUT_OF_MEMORY = "OutOfMemoryError: Container killed due to memory usage"


@pytest.fixture
def runner(aws: AwsSettings) -> EcsRunner:
    return ecs_tasks(aws, AwsClients())


@pytest.fixture
def service(runner: EcsRunner, aws: AwsSettings) -> ExecutionService:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    return ExecutionService(
        DynamoExecutionStore(dynamodb, aws.executions_table),
        DynamoLockStore(dynamodb, aws.locks_table),
        runner,
        FakeLogReader(),
        FakeClock(),
    )


def stopped_in_moto(
    aws: AwsSettings, task_arn: str, containers: dict[str, dict[str, object]]
) -> None:
    """The task STOPPED in moto, its containers' exit codes and ECS's reasons as given (moto
    gives a task one container, the first definition's: the others are added here)."""
    task = ecs_backends[DEFAULT_ACCOUNT_ID][REGION].tasks[aws.cluster.rsplit("/", 1)[-1]][task_arn]
    task.last_status = "STOPPED"
    first = task.containers[0]
    task.containers = []
    for name, attributes in containers.items():
        container = copy.copy(first)
        container.name = name
        for attribute, value in attributes.items():
            setattr(container, attribute, value)
        task.containers.append(container)


@pytest.mark.parametrize("path", ["event", "reaper"])
@pytest.mark.parametrize(
    ("result", "containers", "exit_code", "reason"),
    [
        # the command OOM-killed, the agent reported its 137
        (
            {"v": 1, "exit_code": 137, "git_commit": None, "failure": None},
            {
                AGENT_CONTAINER: {"exitCode": 0},
                COMMAND_CONTAINER: {"exitCode": 137, "reason": OUT_OF_MEMORY},
            },
            137,
            f"exited with code 137 ({OUT_OF_MEMORY})",
        ),
        # the agent OOM-killed before any result
        (
            None,
            {
                AGENT_CONTAINER: {"exitCode": 137, "reason": OUT_OF_MEMORY},
                COMMAND_CONTAINER: {"exitCode": 143},
            },
            None,
            f"the run agent stopped (exit code 137: {OUT_OF_MEMORY})",
        ),
    ],
)
def test_a_task_killed_out_of_memory_settled_by_the_reaper_says_so(
    aws: AwsSettings,
    runner: EcsRunner,
    service: ExecutionService,
    path: str,
    result: dict[str, object] | None,
    containers: dict[str, dict[str, object]],
    exit_code: int | None,
    reason: str,
) -> None:
    # Given a run whose task ECS stopped out of memory, its STOPPED event lost
    execution = service.start(ALICE, ExecutionRequest("make", lock="prod"))
    assert execution.task_ref is not None
    if result is not None:
        boto3.client("s3", region_name=REGION).put_object(
            Bucket=aws.code_bucket, Key=result_key(execution.execution_id), Body=json.dumps(result)
        )
    stopped_in_moto(aws, execution.task_ref, containers)

    # When its STOPPED event settles it, or (the event lost) the reaper from DescribeTasks
    if path == "event":
        [task] = runner._ecs.describe_tasks(cluster=aws.cluster, tasks=[execution.task_ref])[
            "tasks"
        ]
        event = {"detail-type": "ECS Task State Change", "detail": task}
        results = S3RunResults(boto3.client("s3", region_name=REGION), aws.code_bucket)
        change = task_state_change(event, results)
        assert change is not None
        service.on_task_event(change)
    else:
        executions = DynamoExecutionStore(
            boto3.client("dynamodb", region_name=REGION), aws.executions_table
        )
        report = Reaper(executions, runner, service, FakeClock(), tasks=runner).run()
        assert report.settled == [execution.execution_id]

    # Then its record keeps ECS's reason
    final = service.get(ALICE, execution.execution_id)
    assert (final.status, final.exit_code, final.reason) == (
        ExecutionStatus.FAILED,
        exit_code,
        reason,
    )
