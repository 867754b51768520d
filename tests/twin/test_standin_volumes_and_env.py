"""A task's shared volume at its real path (a private mount namespace, as root), the path
prefix fallback, env and overrides, the working directory, images and output."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from twin.ecs import ContainerOutput, EcsStandIn, ImageRuntime, VolumeMode, images_by_repository
from twin.ecs.volumes import detect_mode
from twin_ecs import Events, container, containers_of, definition, finished, new_standin, workspace

needs_namespaces = pytest.mark.skipif(
    detect_mode() is not VolumeMode.NAMESPACE, reason="needs root and util-linux unshare"
)


@needs_namespaces
def test_given_a_shared_volume_when_one_container_writes_mycli_x_then_the_next_reads_it_there(
    standin: EcsStandIn, events: Events
) -> None:
    task = standin.run_task(
        definition(
            container("writer", "echo from-writer > /mycli/x", essential=False, **workspace()),
            container(
                "reader",
                "cat /mycli/x; grep -c ' /mycli ' /proc/self/mounts",
                depends_on=[("writer", "SUCCESS")],
                **workspace(),
            ),
            volumes=["workspace"],
        )
    )

    finished(task)

    assert standin.volume_mode is VolumeMode.NAMESPACE
    assert task.output("reader") == b"from-writer\n1\n"
    assert (task.task_dir / "volumes" / "workspace" / "x").read_bytes() == b"from-writer\n"
    # The host's own /mycli holds nothing of the task's: the bind lived in the namespace.
    assert not Path("/mycli/x").exists()
    assert containers_of(events.last(task))["reader"]["exitCode"] == 0


@needs_namespaces
def test_given_two_tasks_at_once_then_each_sees_its_own_volume_at_the_same_path(
    standin: EcsStandIn,
) -> None:
    script = 'echo "$WHO" > /mycli/who; sleep 0.3; cat /mycli/who'
    tasks = [
        standin.run_task(
            definition(
                container(
                    "main", script, environment=[{"name": "WHO", "value": who}], **workspace()
                ),
                volumes=["workspace"],
            )
        )
        for who in ("first", "second")
    ]

    assert [finished(t).output("main") for t in tasks] == [b"first\n", b"second\n"]


@needs_namespaces
def test_given_a_read_only_mount_point_then_the_container_cannot_write_there(
    standin: EcsStandIn, events: Events
) -> None:
    read_only = {
        "mountPoints": [{"sourceVolume": "workspace", "containerPath": "/mycli", "readOnly": True}]
    }
    task = standin.run_task(
        definition(container("main", "echo x > /mycli/x", **read_only), volumes=["workspace"])
    )

    detail = events.last(finished(task))

    assert containers_of(detail)["main"]["exitCode"] != 0
    assert b"Read-only file system" in task.output("main", "stderr")


def test_given_no_namespace_then_the_volume_is_under_the_prefix_the_container_is_told(
    tmp_path: Path, events: Events
) -> None:
    standin = new_standin(tmp_path / "tasks", events, volume_mode=VolumeMode.PREFIX)
    try:
        task = standin.run_task(
            definition(
                container(
                    "writer", 'echo shared > "$TWIN_ROOT/mycli/x"', essential=False, **workspace()
                ),
                container(
                    "reader",
                    'cat "$TWIN_ROOT/mycli/x"; pwd',
                    depends_on=[("writer", "SUCCESS")],
                    workingDirectory="/mycli/work",
                    **workspace(),
                ),
                volumes=["workspace"],
            )
        )
        finished(task)
    finally:
        standin.close()

    root = task.task_dir / "roots" / "reader"
    assert task.output("reader") == f"shared\n{root}/mycli/work\n".encode()
    assert (task.task_dir / "volumes" / "workspace" / "work").is_dir()


def test_given_env_in_the_definition_and_the_overrides_then_the_override_wins_by_name(
    standin: EcsStandIn,
) -> None:
    task = standin.run_task(
        definition(
            container(
                "main",
                'printf "%s|%s|%s|%s" "$KEPT" "$REPLACED" "$ADDED" "$AWS_EXECUTION_ENV"',
                environment=[
                    {"name": "KEPT", "value": "from-definition"},
                    {"name": "REPLACED", "value": "from-definition"},
                ],
            )
        ),
        overrides={
            "containerOverrides": [
                {
                    "name": "main",
                    "environment": [
                        {"name": "REPLACED", "value": "from-override"},
                        {"name": "ADDED", "value": "$(touch /tmp/never) `x` ;"},
                    ],
                }
            ]
        },
    )

    assert finished(task).output("main") == (
        b"from-definition|from-override|$(touch /tmp/never) `x` ;|AWS_ECS_FARGATE"
    )


def test_given_a_command_override_then_it_replaces_the_definitions_command(
    standin: EcsStandIn,
) -> None:
    task = standin.run_task(
        definition(container("main", "echo placeholder")),
        overrides={"containerOverrides": [{"name": "main", "command": ["echo", "overridden"]}]},
    )

    assert finished(task).output("main") == b"overridden\n"


def test_given_a_working_directory_then_the_command_runs_there(
    standin: EcsStandIn, tmp_path: Path
) -> None:
    work = tmp_path / "work" / "dir"
    task = standin.run_task(definition(container("main", "pwd", workingDirectory=str(work))))

    assert finished(task).output("main") == f"{work}\n".encode()


def test_given_an_image_mapped_to_an_entry_point_then_the_container_runs_it_with_its_env(
    tmp_path: Path, events: Events
) -> None:
    agent = ImageRuntime(
        entry_point=("sh", "-c", 'echo "agent $ROLE $0 $1"'),
        command=("default-arg",),
        environment={"ROLE": "agent", "PATH": os.environ["PATH"]},
    )
    images = images_by_repository({"123456789012.dkr.ecr.eu-west-1.amazonaws.com/agent": agent})
    standin = new_standin(tmp_path / "tasks", events, images=images)
    try:
        image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/agent:1@sha256:" + "a" * 64
        default = standin.run_task(definition({"name": "agent", "image": image}))
        given = standin.run_task(
            definition({"name": "agent", "image": image, "command": ["x", "given"]})
        )
        assert finished(default).output("agent") == b"agent agent default-arg \n"
        assert finished(given).output("agent") == b"agent agent x given\n"
    finally:
        standin.close()


def test_given_an_image_with_its_own_entrypoint_then_the_containers_entry_point_replaces_it(
    tmp_path: Path, events: Events
) -> None:
    # Given an image whose ENTRYPOINT is a program that is not a shell (aws-cli's is ["aws"])
    aws_cli = ImageRuntime(entry_point=("false",), environment={"PATH": os.environ["PATH"]})
    images = images_by_repository({"public.ecr.aws/aws-cli/aws-cli": aws_cli})
    standin = new_standin(tmp_path / "tasks", events, images=images)
    try:
        # When a container gives entryPoint ["sh", "-c"] and its program as the command
        # (as the run task definition's command container does)
        task = standin.run_task(
            definition(
                {
                    "name": "command",
                    "image": "public.ecr.aws/aws-cli/aws-cli:2@sha256:" + "b" * 64,
                    "entryPoint": ["sh", "-c"],
                    "command": ['echo "entry ran as $0"; exit 3'],
                }
            )
        )
        # Then the program runs by sh, not as the image's entry point's arguments
        assert finished(task).output("command") == b"entry ran as sh\n"
        assert containers_of(events.last(task))["command"]["exitCode"] == 3
    finally:
        standin.close()


def test_given_an_output_sink_then_it_gets_each_streams_bytes_with_the_awslogs_stream(
    tmp_path: Path, events: Events
) -> None:
    received: list[ContainerOutput] = []
    standin = new_standin(tmp_path / "tasks", events, on_output=received.append)
    logging = {
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {"awslogs-group": "/mycli/executions", "awslogs-stream-prefix": "exec"},
        }
    }
    try:
        task = standin.run_task(
            definition(container("main", r"printf 'a\377b'; printf 'err' >&2", **logging))
        )
        finished(task)
    finally:
        standin.close()

    by_stream = {
        s: b"".join(o.data for o in received if o.stream == s) for s in ("stdout", "stderr")
    }
    assert by_stream == {"stdout": b"a\xffb", "stderr": b"err"}
    assert task.output("main") == b"a\xffb" and task.output("main", "stderr") == b"err"
    assert {(o.log_group, o.log_stream) for o in received} == {
        ("/mycli/executions", f"exec/main/{task.task_id}")
    }
