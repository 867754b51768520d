"""Task definitions as the stand-in reads them: DescribeTaskDefinition's shape, the
synthesized CloudFormation converted to it, ECS's rules refused clearly, images mapped."""

from __future__ import annotations

from typing import Any

import pytest

from twin.ecs import ImageRuntime, TaskDefinitionError, from_cloudformation, parse_task_definition
from twin.ecs.images import images_by_repository, repository_of
from twin.ecs.task_definition import container_overrides, effective_environment
from twin_ecs import container, definition

# The shape CDK synthesizes for the prepared task definition (two of its containers).
CLOUDFORMATION = {
    "ContainerDefinitions": [
        {
            "Name": "prepare",
            "Image": "public.ecr.aws/aws-cli/aws-cli:2",
            "Essential": False,
            "EntryPoint": ["sh", "-c"],
            "Command": ["echo prepared"],
            "MountPoints": [
                {"ContainerPath": "/mycli", "ReadOnly": False, "SourceVolume": "workspace"}
            ],
            "LogConfiguration": {
                "LogDriver": "awslogs",
                "Options": {
                    "awslogs-group": {"Ref": "ExecutorExecutionLogs"},
                    "awslogs-stream-prefix": "exec",
                    "awslogs-region": "eu-west-1",
                },
            },
        },
        {
            "Name": "command",
            "Image": "public.ecr.aws/docker/library/busybox:1.36",
            "Essential": True,
            "Command": ["sh", "-c", "echo placeholder"],
            "WorkingDirectory": "/mycli/work",
            "Environment": [{"Name": "A", "Value": "1"}],
            "DependsOn": [{"Condition": "SUCCESS", "ContainerName": "prepare"}],
            "MountPoints": [
                {"ContainerPath": "/mycli", "ReadOnly": False, "SourceVolume": "workspace"}
            ],
            "StopTimeout": 5,
        },
    ],
    "Cpu": "256",
    "Memory": "512",
    "Family": "MycliPrepared",
    "Volumes": [{"Name": "workspace"}],
    "TaskRoleArn": {"Fn::GetAtt": ["TaskRole", "Arn"]},
}


def test_given_the_synthesized_shape_when_converted_then_it_reads_as_describe_task_definition() -> (
    None
):
    resolved = {"ExecutorExecutionLogs": "/mycli/executions"}

    def resolve(value: Any) -> Any:
        return resolved.get(value.get("Ref"), "arn:aws:iam::123456789012:role/task")

    converted = from_cloudformation(CLOUDFORMATION, arn="arn:td/prepared:1", resolve=resolve)
    parsed = parse_task_definition(converted)

    assert (parsed.arn, parsed.family, parsed.volumes) == (
        "arn:td/prepared:1",
        "MycliPrepared",
        ("workspace",),
    )
    prepare, command = parsed.containers
    assert prepare.essential is False and prepare.entry_point == ("sh", "-c")
    assert prepare.log_stream("t1") == ("/mycli/executions", "exec/prepare/t1")
    assert command.depends_on[0].container == "prepare"
    assert command.depends_on[0].condition == "SUCCESS"
    assert command.working_directory == "/mycli/work" and command.stop_timeout == 5
    assert command.environment == (("A", "1"),)
    assert command.mount_points[0].container_path == "/mycli"


def test_given_an_unresolved_image_then_parsing_names_the_field() -> None:
    properties = {
        "ContainerDefinitions": [{"Name": "agent", "Image": {"Fn::Sub": "${AWS::AccountId}.x"}}]
    }

    with pytest.raises(TaskDefinitionError, match=r"containerDefinitions\[0\]\.image .*resolve"):
        parse_task_definition(from_cloudformation(properties))


@pytest.mark.parametrize(
    ("containers", "volumes", "message"),
    [
        ([], [], "has no containers"),
        ([container("a", "x", essential=False)], [], "at least one essential"),
        ([container("a", "x"), container("a", "y")], [], "names repeat"),
        (
            [container("a", "x"), container("b", "y", depends_on=[("a", "HEALTHY")])],
            [],
            "runs no health checks, so the HEALTHY condition on a is not supported",
        ),
        (
            [container("a", "x"), container("b", "y", depends_on=[("a", "SUCCESS")])],
            [],
            "SUCCESS or COMPLETE condition cannot be an essential container",
        ),
        ([container("b", "y", depends_on=[("nope", "START")])], [], "depends on nope"),
        (
            [
                container("a", "x", depends_on=[("b", "START")]),
                container("b", "y", depends_on=[("a", "START")]),
            ],
            [],
            "cycle: a -> b -> a",
        ),
        (
            [container("a", "x", dependsOn=[{"containerName": "a", "condition": "LATER"}])],
            [],
            "not another container",
        ),
        (
            [
                container("a", "x", essential=False),
                container("b", "y", depends_on=[("a", "LATER")]),
            ],
            [],
            "unknown dependency condition LATER",
        ),
        (
            [container("a", "x", mountPoints=[{"sourceVolume": "v", "containerPath": "/m"}])],
            [],
            "names volume v",
        ),
        (
            [container("a", "x", mountPoints=[{"sourceVolume": "v", "containerPath": "m"}])],
            ["v"],
            "not absolute",
        ),
    ],
)
def test_given_what_ecs_refuses_then_the_stand_in_refuses_it_clearly(
    containers: list[dict[str, Any]], volumes: list[str], message: str
) -> None:
    with pytest.raises(TaskDefinitionError, match=message.replace("(", r"\(")):
        definition(*containers, volumes=volumes)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"containerOverrides": [{"name": "other"}]}, "other is not a container"),
        ({"containerOverrides": [{"name": "main"}, {"name": "main"}]}, "overridden twice"),
        ({"containerOverrides": [{"name": "main", "command": "ls"}]}, "list of strings"),
        (
            {"containerOverrides": [{"name": "main", "environment": [{"name": "A"}]}]},
            r"environment\[0\]\.value must be a string",
        ),
    ],
)
def test_given_overrides_ecs_refuses_then_run_task_refuses_them(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(TaskDefinitionError, match=message):
        container_overrides(definition(container("main", "x")), overrides)


def test_given_env_overrides_then_they_replace_by_name_and_add() -> None:
    main = definition(
        container(
            "main", "x", environment=[{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
        )
    ).containers[0]

    merged = effective_environment(
        main, {"environment": [{"name": "B", "value": "3"}, {"name": "C", "value": ""}]}
    )

    assert merged == {"A": "1", "B": "3", "C": ""}


def test_given_an_image_runtime_then_argv_follows_dockers_entrypoint_and_cmd_rules() -> None:
    image = ImageRuntime(entry_point=("agent",), command=("--default",), argv_prefix=("nice",))

    assert image.argv(None, None) == ["nice", "agent", "--default"]
    assert image.argv(None, ("--given",)) == ["nice", "agent", "--given"]
    # A container's own entryPoint drops the image's CMD.
    assert image.argv(("sh", "-c"), None) == ["nice", "sh", "-c"]
    assert image.argv(("sh", "-c"), ("true",)) == ["nice", "sh", "-c", "true"]


@pytest.mark.parametrize(
    ("image", "repository"),
    [
        ("busybox", "busybox"),
        ("busybox:1.36", "busybox"),
        ("registry:5000/team/agent", "registry:5000/team/agent"),
        ("registry:5000/team/agent:v2@sha256:abc", "registry:5000/team/agent"),
    ],
)
def test_given_an_image_reference_then_its_repository_drops_tag_and_digest(
    image: str, repository: str
) -> None:
    assert repository_of(image) == repository


def test_given_a_mapper_then_unknown_images_go_to_the_host() -> None:
    agent = ImageRuntime(entry_point=("python3", "-m", "agent"))
    mapper = images_by_repository({"agent": agent})

    assert mapper("agent:1") is agent
    assert mapper("busybox").entry_point == ()
    assert "PATH" in mapper("busybox").environment
