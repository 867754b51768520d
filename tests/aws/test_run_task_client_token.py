"""One task per run: RunTask carries a clientToken made from the execution id, so a RunTask
repeated for the same execution (an SDK retry after a lost response) starts no second task.
botocore's Stubber checks the request as it leaves the client; S3 (the manifest) is moto."""

from __future__ import annotations

import botocore.session
from botocore.stub import ANY, Stubber

from orchestrator.adapters.aws.clients import AwsClients
from orchestrator.adapters.aws.composition import ecs_tasks
from orchestrator.adapters.aws.settings import AwsSettings
from orchestrator.domain.models import LaunchSpec

EXECUTION_ID = "0123456789abcdef0123456789abcdef"
TASK_ARN = "arn:aws:ecs:eu-west-1:123456789012:task/mycli/5f0c2a"


def test_botocores_run_task_model_takes_a_client_token_of_up_to_64_characters() -> None:
    model = botocore.session.get_session().get_service_model("ecs")

    token = model.operation_model("RunTask").input_shape.members["clientToken"]

    assert token.metadata.get("idempotencyToken") is True
    assert "Up to 64 characters" in token.documentation
    assert len(EXECUTION_ID) <= 64


def test_run_task_is_called_with_the_execution_id_as_its_client_token(aws: AwsSettings) -> None:
    # Given the ECS runner, its RunTask answered by a Stubber that expects the token
    runner = ecs_tasks(aws, AwsClients())
    expected = {
        name: ANY
        for name in (
            "cluster",
            "taskDefinition",
            "launchType",
            "count",
            "startedBy",
            "tags",
            "enableECSManagedTags",
            "networkConfiguration",
            "overrides",
        )
    }
    with Stubber(runner._ecs) as stub:
        stub.add_response(
            "run_task",
            {"tasks": [{"taskArn": TASK_ARN}], "failures": []},
            {**expected, "clientToken": EXECUTION_ID},
        )

        # When an execution is launched
        launched = runner.launch(LaunchSpec(EXECUTION_ID, "echo hi", {}, 60))

        # Then the one RunTask carried its id as the client token
        stub.assert_no_pending_responses()
    assert launched.task_ref == TASK_ARN
