"""The task-events function when the run agent reports that the command's container ended
without an exit code of its own (killed: SIGKILL, out of memory): the run takes the
command container's exitCode and ECS's reason from the STOPPED event."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from events import ecs_task_event
from lambda_harness import Lambdas
from moto_aws import REGION
from orchestrator.adapters.aws.s3_results import result_key
from orchestrator.agent.layout import AGENT_CONTAINER, COMMAND_CONTAINER_LOST

OUT_OF_MEMORY = "OutOfMemoryError: Container killed due to memory usage"


@pytest.mark.parametrize(
    ("command", "exit_code", "reason"),
    [
        (
            {"exit_code": 137, "container_reason": OUT_OF_MEMORY},
            137,
            f"exited with code 137 ({OUT_OF_MEMORY})",
        ),
        ({"exit_code": 137}, 137, "exited with code 137"),
        ({}, None, COMMAND_CONTAINER_LOST),
    ],
)
def test_a_command_container_killed_before_its_exit_takes_the_events_code_and_reason(
    lambdas: Lambdas, command: dict[str, Any], exit_code: int | None, reason: str
) -> None:
    # Given a run whose agent reported that the command's container ended unreported
    status, execution = lambdas.call(
        "POST", "/executions", lambdas.alice_key, body={"command": "make", "lock": "prod"}
    )
    assert status == 202, execution
    result = {"v": 1, "exit_code": None, "failure": None, "exit_unknown": COMMAND_CONTAINER_LOST}
    boto3.client("s3", region_name=REGION).put_object(
        Bucket="mycli-code",
        Key=result_key(execution["execution_id"]),
        Body=json.dumps(result).encode(),
    )
    event = ecs_task_event(
        task_arn=execution["task_ref"],
        cluster_arn=lambdas.settings.cluster,
        started_by=execution["execution_id"],
        last_status="STOPPED",
        stop_code="EssentialContainerExited",
        **command,
    )
    event["detail"]["containers"].append(
        {"name": AGENT_CONTAINER, "lastStatus": "STOPPED", "exitCode": 0}
    )

    # When the task's STOPPED event comes, with the command container's code and reason
    lambdas.invoke("task_events", event)
    _, final = lambdas.call("GET", f"/executions/{execution['execution_id']}", lambdas.alice_key)

    # Then the run failed with them (ECS's reason shown), and its lock is free
    assert (final["status"], final["exit_code"], final["reason"]) == ("FAILED", exit_code, reason)
    assert lambdas.call("GET", "/locks", lambdas.alice_key)[1]["locks"] == []
