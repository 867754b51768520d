"""An image on the Fargate twin after a stack upgrade: its task definition, a copy of the run
task definition made when it was registered, is made again from the current one at its next
run, and the old copy is deregistered.

An upgrade is what the image's record sees: the run task definition it was made from
(`platform_base`) is no longer the stack's. The twin cannot redeploy in place, so the test
points the record at an older definition, as a deploy of a new stack version leaves it.

Twin only: task definitions are AWS's (the embedded platform records an image's URI only)."""

from __future__ import annotations

from typing import Any

import pytest

from deployment import LocalDeployment
from twin_deployment import TwinDeployment

pytestmark = pytest.mark.twin_only(
    "an image's task definition is AWS's (the embedded platform records its URI only)"
)


def test_an_image_made_from_an_older_run_definition_runs_on_a_fresh_copy(
    deployment: LocalDeployment,
) -> None:
    assert isinstance(deployment, TwinDeployment)
    twin, key = deployment, deployment.admin_key
    ecs, dynamodb = twin.client("ecs"), twin.client("dynamodb")
    status, image = twin.api("POST", "/images", key, {"name": "tools", "uri": "alpine:3.20"})
    assert status == 201, image
    [table] = [t for t in dynamodb.list_tables()["TableNames"] if "Images" in t]
    current = image_item(dynamodb, table, "tools")
    run_definition, old_copy = current["platform_base"]["S"], current["platform_ref"]["S"]

    # Given the image's copy was made from an older run task definition (a stack upgrade)
    older = ecs.register_task_definition(
        family="mycli-run-before-upgrade",
        containerDefinitions=[{"name": "command", "image": "alpine:3.20", "memory": 512}],
    )["taskDefinition"]["taskDefinitionArn"]
    dynamodb.update_item(
        TableName=table,
        Key={"name": {"S": "tools"}},
        UpdateExpression="SET platform_base = :older",
        ExpressionAttributeValues={":older": {"S": older}},
    )

    # When a run uses the image
    run = twin.mycli("exec", "--image", "tools", "--", "echo on a fresh copy", timeout=120)

    # Then it ran, on a fresh copy made from the current run task definition, and the old
    # copy was deregistered
    assert (run.returncode, run.stdout) == (0, "on a fresh copy\n"), run.stderr
    after = image_item(dynamodb, table, "tools")
    fresh_copy = after["platform_ref"]["S"]
    assert after["platform_base"]["S"] == run_definition
    assert fresh_copy != old_copy
    assert status_of(ecs, old_copy) == "INACTIVE"
    assert status_of(ecs, fresh_copy) == "ACTIVE"
    [execution] = twin.api("GET", "/executions?limit=1", key)[1]["items"]
    assert execution["image"] == "tools"


def image_item(dynamodb: Any, table: str, name: str) -> dict[str, Any]:
    item: dict[str, Any] = dynamodb.get_item(
        TableName=table, Key={"name": {"S": name}}, ConsistentRead=True
    )["Item"]
    return item


def status_of(ecs: Any, task_definition: str) -> str:
    status: str = ecs.describe_task_definition(taskDefinition=task_definition)["taskDefinition"][
        "status"
    ]
    return status
