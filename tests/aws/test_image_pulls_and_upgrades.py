"""Images against moto: an ECR image the stack's tasks could not pull is refused at
registration (400, saying what to do); an image made from an older run task definition (a
stack upgrade) is made again by the next run on it; the stack's deletion deregisters the
images' task definitions and answers CloudFormation."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import boto3
import pytest

from lambda_harness import Lambdas, reset_runtime
from moto_aws import EXECUTION_ROLE_ARN, REGION
from orchestrator.agent.layout import AGENT_CONTAINER

OURS = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


def register(lambdas: Lambdas, name: str, uri: str) -> tuple[int, Any]:
    return lambdas.call("POST", "/images", lambdas.admin_key, body={"name": name, "uri": uri})


def run_on(lambdas: Lambdas, image: str) -> dict[str, Any]:
    status, execution = lambdas.call(
        "POST", "/executions", lambdas.alice_key, body={"command": "true", "image": image}
    )
    assert status == 202, execution
    ecs = boto3.client("ecs", region_name=REGION)
    [task] = ecs.describe_tasks(cluster=lambdas.settings.cluster, tasks=[execution["task_ref"]])[
        "tasks"
    ]
    definition: dict[str, Any] = ecs.describe_task_definition(
        taskDefinition=task["taskDefinitionArn"]
    )["taskDefinition"]
    return definition


@pytest.mark.parametrize(
    ("uri", "said"),
    [
        ("210987654321.dkr.ecr.eu-west-1.amazonaws.com/mycli/tools:1", "account 210987654321"),
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com/mycli/tools:1", "region us-east-1"),
        (f"{OURS}/tools:1", "repository tools is not under mycli/"),
        (f"{OURS.upper()}/team/tools@sha256:{'a' * 64}", "repository team/tools"),
    ],
)
def test_an_ecr_image_the_stack_cannot_pull_is_refused_saying_what_to_do(
    lambdas: Lambdas, uri: str, said: str
) -> None:
    status, body = register(lambdas, "tools", uri)

    assert status == 400, body
    message = body["error"]["message"]
    assert said in message
    assert f"{OURS}/mycli/" in message  # where to push it
    assert body["error"]["details"] == {"allowed_prefix": f"{OURS}/mycli/"}
    if "repository" in said:
        assert "mycli:ecrRepositoryPrefix" in message
    ecs = boto3.client("ecs", region_name=REGION)
    assert ecs.list_task_definition_families(familyPrefix="mycli-image")["families"] == []


def test_images_in_the_stacks_repositories_and_public_registries_are_registered(
    lambdas: Lambdas,
) -> None:
    for name, uri in (
        ("ours", f"{OURS}/mycli/terraform:1.9"),
        ("public", "public.ecr.aws/docker/library/alpine:3.20"),
        ("hub", "alpine:3.20"),
    ):
        status, image = register(lambdas, name, uri)
        assert status == 201, image


def test_a_run_after_an_upgrade_gets_a_copy_of_the_new_run_task_definition(
    lambdas: Lambdas, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an image registered on the stack as first deployed
    ecs = boto3.client("ecs", region_name=REGION)
    _, image = register(lambdas, "tools", "public.ecr.aws/docker/library/alpine:3.20")
    old = image["platform_ref"]

    # When the stack is upgraded (a new run task definition: here, a new agent image) and a
    # user runs on the image
    described = ecs.describe_task_definition(taskDefinition=lambdas.settings.task_definition)
    upgraded = {
        key: value
        for key, value in described["taskDefinition"].items()
        if key in ("family", "executionRoleArn", "requiresCompatibilities", "networkMode")
        or key in ("cpu", "memory", "volumes", "containerDefinitions")
    }
    for container in upgraded["containerDefinitions"]:
        if container["name"] == AGENT_CONTAINER:
            container["image"] += "-v2"
    new_run = ecs.register_task_definition(**upgraded)["taskDefinition"]["taskDefinitionArn"]
    monkeypatch.setenv("TASK_DEFINITION_ARN", new_run)
    reset_runtime()
    first = run_on(lambdas, "tools")
    second = run_on(lambdas, "tools")

    # Then the run's task is a fresh copy of the new definition, the image records it, the
    # old copy is deregistered, and the next run reuses the copy
    agent = next(c for c in first["containerDefinitions"] if c["name"] == AGENT_CONTAINER)
    assert agent["image"].endswith(":agent-v2")
    assert first["taskDefinitionArn"] != old
    assert first["family"] == "mycli-image-tools"
    command = next(c for c in first["containerDefinitions"] if c["name"] != AGENT_CONTAINER)
    assert command["image"] == "public.ecr.aws/docker/library/alpine:3.20"
    [listed] = lambdas.call("GET", "/images", lambdas.admin_key)[1]["items"]
    assert listed["platform_ref"] == first["taskDefinitionArn"]
    assert "platform_base" not in listed
    assert ecs.describe_task_definition(taskDefinition=old)["taskDefinition"]["status"] == (
        "INACTIVE"
    )
    assert second["taskDefinitionArn"] == first["taskDefinitionArn"]


class _CloudFormation(BaseHTTPRequestHandler):
    """Stands in for the presigned S3 URL CloudFormation waits on."""

    answers: list[tuple[str, dict[str, Any]]] = []

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.answers.append((self.headers.get("Content-Type", ""), json.loads(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def response_url() -> Iterator[tuple[str, list[tuple[str, dict[str, Any]]]]]:
    server = HTTPServer(("127.0.0.1", 0), _CloudFormation)
    _CloudFormation.answers = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/answer?signed=1", _CloudFormation.answers
    server.shutdown()
    server.server_close()


def custom_resource_event(request: str, url: str) -> dict[str, Any]:
    event = {
        "RequestType": request,
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/Mycli/1",
        "RequestId": f"req-{request}",
        "LogicalResourceId": "ImageDefinitions",
        "ResourceType": "Custom::ImageDefinitions",
        "ResourceProperties": {"ExecutionRoleArn": EXECUTION_ROLE_ARN},
    }
    if request != "Create":
        event["PhysicalResourceId"] = "image-definitions"
    return event


def test_the_stacks_deletion_deregisters_its_images_definitions_and_answers(
    lambdas: Lambdas, response_url: tuple[str, list[tuple[str, dict[str, Any]]]]
) -> None:
    # Given two images, and another stack's family that merely starts the same way
    url, answers = response_url
    ecs = boto3.client("ecs", region_name=REGION)
    refs = [register(lambdas, name, "alpine:3.20")[1]["platform_ref"] for name in ("a", "b")]
    other = ecs.register_task_definition(
        family="mycli-image-x-image-a",
        executionRoleArn="arn:aws:iam::123456789012:role/Other-ExecutionRole",
        containerDefinitions=[{"name": "c", "image": "alpine", "memory": 64}],
    )["taskDefinition"]["taskDefinitionArn"]

    # When CloudFormation creates, updates, then deletes the custom resource
    for request in ("Create", "Update"):
        lambdas.invoke("destroy_images", custom_resource_event(request, url))
    statuses_before = [
        ecs.describe_task_definition(taskDefinition=ref)["taskDefinition"]["status"] for ref in refs
    ]
    lambdas.invoke("destroy_images", custom_resource_event("Delete", url))

    # Then only the delete deregistered, and only this stack's images' definitions; every
    # request was answered SUCCESS with the same physical id, signed for no content type
    assert statuses_before == ["ACTIVE", "ACTIVE"]
    for ref in refs:
        assert ecs.describe_task_definition(taskDefinition=ref)["taskDefinition"]["status"] == (
            "INACTIVE"
        )
    assert ecs.describe_task_definition(taskDefinition=other)["taskDefinition"]["status"] == (
        "ACTIVE"
    )
    assert [(kind, a["Status"], a["PhysicalResourceId"]) for kind, a in answers] == [
        ("", "SUCCESS", "image-definitions")
    ] * 3
    assert [a["RequestId"] for _, a in answers] == ["req-Create", "req-Update", "req-Delete"]
    assert answers[-1][1]["Data"] == {"Deregistered": 2}


def test_a_failing_deletion_still_answers_so_the_stack_is_not_stuck(
    lambdas: Lambdas,
    response_url: tuple[str, list[tuple[str, dict[str, Any]]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, answers = response_url
    monkeypatch.delenv("TASK_DEFINITION_ARN")  # the platform cannot even be built
    reset_runtime()

    lambdas.invoke("destroy_images", custom_resource_event("Delete", url))

    assert [a["Status"] for _, a in answers] == ["SUCCESS"]
