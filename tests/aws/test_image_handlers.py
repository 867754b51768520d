"""The images functions and runs on images, against moto: a registered image becomes its own
task definition (the run's one with the image, role and size replaced), a run on it is
RunTask on that definition with its size, removal deregisters it."""

from __future__ import annotations

from typing import Any

import boto3

from lambda_harness import Lambdas
from moto_aws import IMAGE_ROLE_ARN_PREFIX, REGION
from orchestrator.adapters.aws.dynamodb_warm_pool import DynamoWarmPool
from orchestrator.agent.scripts import command_entry_script
from orchestrator.domain.warm_tasks import WarmState, WarmTask

ROLE = IMAGE_ROLE_ARN_PREFIX + "infra"


def register(lambdas: Lambdas, **body: Any) -> tuple[int, Any]:
    return lambdas.call(
        "POST",
        "/images",
        lambdas.admin_key,
        body={"name": "infra", "uri": "registry.example/terraform:1.9", **body},
    )


def test_register_makes_a_task_definition_with_the_image_role_and_size(lambdas: Lambdas) -> None:
    # When an admin registers an image with its own role and size
    status, image = register(lambdas, task_role_arn=ROLE, cpu=1024, memory=2048)

    # Then it has a task definition: the run's one with those replaced (the agent stays)
    assert status == 201, image
    assert image["warnings"] == []  # on AWS an image is pulled and sized as registered
    ecs = boto3.client("ecs", region_name=REGION)
    definition = ecs.describe_task_definition(taskDefinition=image["platform_ref"])[
        "taskDefinition"
    ]
    assert definition["family"] == "mycli-image-infra"
    assert (definition["cpu"], definition["memory"]) == ("1024", "2048")
    assert definition["taskRoleArn"] == ROLE
    containers = {c["name"]: c["image"] for c in definition["containerDefinitions"]}
    assert containers["command"] == "registry.example/terraform:1.9"
    assert set(containers) == {"agent", "command"}
    assert containers["agent"] == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/cdk-assets:agent"
    # the command container keeps its own entry point: the image's ENTRYPOINT is not used
    command = next(c for c in definition["containerDefinitions"] if c["name"] == "command")
    assert command["entryPoint"] == ["sh", "-c"]
    assert command["command"] == [command_entry_script()]


def test_a_role_outside_the_prefix_is_refused_before_ecs_is_asked(lambdas: Lambdas) -> None:
    status, body = register(lambdas, task_role_arn="arn:aws:iam::123456789012:role/admin")

    assert status == 400
    assert "must start with " + IMAGE_ROLE_ARN_PREFIX in body["error"]["message"]
    ecs = boto3.client("ecs", region_name=REGION)
    families = ecs.list_task_definition_families(familyPrefix="mycli-image")["families"]
    assert families == []


def test_a_run_on_an_image_is_run_task_on_its_definition_with_its_size(lambdas: Lambdas) -> None:
    # Given an image whose runs may grow to 2048 CPU units
    _, image = register(
        lambdas, task_role_arn=ROLE, cpu=512, memory=1024, max_cpu=2048, max_memory=4096
    )

    # When a user runs on it with a larger size
    status, execution = lambdas.call(
        "POST",
        "/executions",
        lambdas.alice_key,
        body={"command": "terraform plan", "image": "infra", "cpu": 2048, "memory": 4096},
    )

    # Then the task runs on the image's definition with that size, and the record says so
    assert status == 202, execution
    assert (execution["image"], execution["image_uri"], execution["cpu"], execution["memory"]) == (
        "infra",
        "registry.example/terraform:1.9",
        2048,
        4096,
    )
    ecs = boto3.client("ecs", region_name=REGION)
    [task] = ecs.describe_tasks(cluster=lambdas.settings.cluster, tasks=[execution["task_ref"]])[
        "tasks"
    ]
    assert task["taskDefinitionArn"] == image["platform_ref"]
    assert (task["overrides"]["cpu"], task["overrides"]["memory"]) == ("2048", "4096")
    assert "terraform plan" not in str(task["overrides"])  # the command is in the manifest


def test_remove_deregisters_the_definition_and_a_started_run_keeps_its_record(
    lambdas: Lambdas,
) -> None:
    _, image = register(lambdas)
    _, execution = lambdas.call(
        "POST", "/executions", lambdas.alice_key, body={"command": "sleep 60", "image": "infra"}
    )

    status, removed = lambdas.call("DELETE", "/images/infra", lambdas.admin_key)

    assert (status, removed["name"]) == (200, "infra")
    ecs = boto3.client("ecs", region_name=REGION)
    definition = ecs.describe_task_definition(taskDefinition=image["platform_ref"])
    assert definition["taskDefinition"]["status"] == "INACTIVE"
    status, kept = lambdas.call(
        "GET", f"/executions/{execution['execution_id']}", lambdas.alice_key
    )
    assert (status, kept["image"], kept["status"]) == (200, "infra", "STARTING")
    assert lambdas.call("GET", "/images", lambdas.alice_key)[1]["items"] == []


def test_the_listing_shows_each_warm_pool_from_the_warm_tasks_table(lambdas: Lambdas) -> None:
    # Given an image registered with a pool of 3, none started yet
    status, image = register(lambdas, warm=3, warm_idle_seconds=900)
    assert status == 201, image
    assert (image["warm"], image["warm_idle_seconds"], image["warnings"]) == (
        {"target": 3, "ready": 0, "starting": 0},
        900,
        [],
    )
    # when the pool manager has started two tasks, one of them ready, and a run claimed a third
    pool = DynamoWarmPool(boto3.client("dynamodb", region_name=REGION), "WarmTasks")
    for n in (1, 2, 3):
        pool.register(
            WarmTask(
                task_id=f"{n:032x}",
                image="infra",
                state=WarmState.STARTING,
                mailbox=f"warm/{n:032x}/assignment",
                platform_ref=image["platform_ref"],
                started_at="2026-01-01T00:00:00.000Z",
                usable_until="2999-01-01T00:00:00.000Z",
            )
        )
    for n in (1, 3):
        pool.mark_ready(f"{n:032x}", f"arn:aws:ecs:task/{n}", "2026-01-01T00:00:01.000Z")
    pool.claim(
        "infra",
        "e" * 32,
        platform_ref=image["platform_ref"],
        usable_after="2026-01-01T00:00:02.000Z",
        at="2026-01-01T00:00:02.000Z",
    )

    # then every user sees the pool: its target, one ready, one starting
    _, listed = lambdas.call("GET", "/images", lambdas.bob_key)
    assert [i["warm"] for i in listed["items"]] == [{"target": 3, "ready": 1, "starting": 1}]


def test_users_see_images_without_roles_and_cannot_register(lambdas: Lambdas) -> None:
    register(lambdas, task_role_arn=ROLE)

    _, listed = lambdas.call("GET", "/images", lambdas.bob_key)
    status, _ = lambdas.call("POST", "/images", lambdas.bob_key, body={"name": "x", "uri": "x"})

    assert [(i["name"], i["task_role_arn"], i["platform_ref"]) for i in listed["items"]] == [
        ("infra", None, None)
    ]
    assert status == 403


def test_env_values_of_a_run_on_an_image_are_unsealed_by_the_images_role(
    lambdas: Lambdas,
) -> None:
    register(lambdas, task_role_arn=ROLE)

    status, execution = lambdas.call(
        "POST",
        "/executions",
        lambdas.alice_key,
        body={"command": "true", "image": "infra", "env": {"TOKEN": "s3cr3t"}},
    )

    assert status == 202, execution
    kms = boto3.client("kms", region_name=REGION)
    [grant] = kms.list_grants(KeyId=lambdas.settings.env_key)["Grants"]
    assert grant["GranteePrincipal"] == ROLE
    assert grant["Constraints"] == {
        "EncryptionContextEquals": {"execution_id": execution["execution_id"]}
    }


def test_a_run_on_an_image_gets_its_default_secret_and_its_own_sealed_for_the_image_role(
    lambdas: Lambdas,
) -> None:
    # Given two stored secrets, one of them a default of an image with its own role
    for name, value in (("db.password", "image-default-pw-1"), ("api-token", "run-token-2")):
        status, _ = lambdas.call(
            "PUT", f"/secrets/{name}", lambdas.admin_key, body={"value": value}
        )
        assert status == 200
    status, image = register(lambdas, task_role_arn=ROLE, secrets=["PGPASSWORD=db.password"])
    assert status == 201, image

    # When a user runs on the image asking for the other secret too
    ecs = boto3.client("ecs", region_name=REGION)
    status, execution = lambdas.call(
        "POST",
        "/executions",
        lambdas.alice_key,
        body={"command": "psql", "image": "infra", "secrets": {"TOKEN": "api-token"}},
    )

    # Then it is a task of the image's definition, both secrets are recorded by name only,
    # and neither value is in the task; only the image's role may unseal them
    assert status == 202, execution
    assert execution["secret_names"] == ["PGPASSWORD=db.password", "TOKEN=api-token"]
    [task] = ecs.describe_tasks(cluster=lambdas.settings.cluster, tasks=[execution["task_ref"]])[
        "tasks"
    ]
    assert task["taskDefinitionArn"] == image["platform_ref"]
    for value in ("image-default-pw-1", "run-token-2"):
        assert value not in repr(task) and value not in repr(execution)
    kms = boto3.client("kms", region_name=REGION)
    [grant] = kms.list_grants(KeyId=lambdas.settings.env_key)["Grants"]
    assert grant["GranteePrincipal"] == ROLE


def test_an_admin_changes_a_pool_and_it_wakes_at_once(lambdas: Lambdas) -> None:
    # Given an image registered without a pool, long before any run
    _, image = register(lambdas)
    pool = DynamoWarmPool(boto3.client("dynamodb", region_name=REGION), "WarmTasks")
    ecs = boto3.client("ecs", region_name=REGION)

    # When a user tries to give it a pool, then an admin does, for an unknown image too
    refused, _ = lambdas.call("PATCH", "/images/infra", lambdas.bob_key, body={"warm": 2})
    unknown, _ = lambdas.call("PATCH", "/images/nope", lambdas.admin_key, body={"warm": 2})
    status, pooled = lambdas.call(
        "PATCH", "/images/infra", lambdas.admin_key, body={"warm": 2, "warm_idle_seconds": 600}
    )

    # Then only the admin's lands, on the image as it was (the same task definition)
    assert (refused, unknown, status) == (403, 404, 200)
    assert (pooled["warm"], pooled["warm_idle_seconds"], pooled["warnings"]) == (
        {"target": 2, "ready": 0, "starting": 0},
        600,
        [],
    )
    assert pooled["platform_ref"] == image["platform_ref"]
    assert ecs.list_task_definitions(familyPrefix="mycli-image-infra")["taskDefinitionArns"] == [
        image["platform_ref"]
    ]
    # and the change counts as demand: the pool manager's next round starts the pool
    assert pool.last_demand("infra") is not None
    assert pool.last_demand("nope") is None
    [listed] = lambdas.call("GET", "/images", lambdas.alice_key)[1]["items"]
    assert listed["warm"] == pooled["warm"]
