"""Runner contract: what the services rely on, for the local process runner and the ECS
runner (against moto). The local runner's finer behaviour is in tests/adapters."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from fakes import FakeClock
from moto_aws import REGION
from orchestrator.adapters.aws.ecs import EXECUTION_TAG, EcsRunner
from orchestrator.adapters.aws.kms_env import KmsEnvSealer
from orchestrator.adapters.aws.run_inputs import RunInputs
from orchestrator.adapters.aws.s3_output import SIGV4
from orchestrator.adapters.aws.s3_results import S3RunResults
from orchestrator.adapters.clock import SystemClock
from orchestrator.adapters.local.runner import LocalProcessRunner
from orchestrator.domain.errors import LaunchFailed
from orchestrator.domain.models import Execution, GitSource, LaunchSpec
from support import started_execution


@dataclass
class RunnerHarness:
    runner: Any
    is_stopped: Callable[[Execution], bool]
    break_launches: Callable[[], None]
    phantom_task_ref: str

    def launch(
        self, execution_id: str, command: str, env: dict[str, str] | None = None
    ) -> Execution:
        result = self.runner.launch(LaunchSpec(execution_id, command, env or {}, 60))
        return started_execution(execution_id, command, result.task_ref, result.log_stream_name)


class ExitRecorder:
    def __init__(self) -> None:
        self.exited: set[str] = set()
        self.changed = threading.Condition()

    def on_running(self, execution_id: str) -> None:
        return None

    def on_exit(self, execution_id: str, exit_code: int, *, timed_out: bool) -> None:
        with self.changed:
            self.exited.add(execution_id)
            self.changed.notify_all()

    def on_git_commit(self, execution_id: str, commit: str) -> None:
        return None

    def on_setup_failed(self, execution_id: str, reason: str) -> None:
        self.on_exit(execution_id, 125, timed_out=False)

    def wait(self, execution_id: str) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: execution_id in self.exited, timeout=10)


def local_harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunnerHarness]:
    recorder = ExitRecorder()
    runner = LocalProcessRunner(
        tmp_path / "work", tmp_path / "logs", SystemClock(), kill_grace_seconds=0.5
    )
    runner.subscribe(recorder)

    def break_launches() -> None:
        (tmp_path / "work").rmdir()
        (tmp_path / "work").write_text("not a directory")

    yield RunnerHarness(
        runner, lambda e: recorder.wait(e.execution_id), break_launches, "999999999"
    )
    runner.stop_all()


def ecs_harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunnerHarness]:
    settings = request.getfixturevalue("aws")
    ecs = boto3.client("ecs", region_name=REGION)
    options = {
        "cluster": settings.cluster,
        "task_definition": settings.task_definition,
        "subnets": settings.subnets,
        "security_groups": settings.security_groups,
        "log_stream_prefix": "exec",
        "inputs": run_inputs(settings),
        "results": S3RunResults(boto3.client("s3", region_name=REGION), settings.code_bucket),
    }
    harness = RunnerHarness(
        EcsRunner(ecs, **options),
        lambda e: (
            ecs.describe_tasks(cluster=settings.cluster, tasks=[e.task_ref])["tasks"][0][
                "lastStatus"
            ]
            == "STOPPED"
        ),
        lambda: None,
        settings.cluster.replace(":cluster/", ":task/") + "/00000000000000000000000000000000",
    )

    def break_launches() -> None:
        harness.runner = EcsRunner(
            ecs,
            **{**options, "task_definition": "missing-family:1"},
        )

    harness.break_launches = break_launches
    yield harness


RUNNERS = {"local": local_harness, "ecs": ecs_harness}


@pytest.fixture(params=sorted(RUNNERS))
def runner(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunnerHarness]:
    yield from RUNNERS[request.param](request, tmp_path)


def test_a_launch_names_its_task_and_log_stream(runner: RunnerHarness) -> None:
    launched = runner.launch("e1", "sleep 30", {"TOKEN": "x"})

    assert launched.task_ref
    assert launched.log_stream_name
    runner.runner.stop(launched, "test over")


def test_a_git_launch_names_its_task_and_log_stream_and_ends_when_stopped(
    runner: RunnerHarness,
) -> None:
    # Given a run whose checkout cannot succeed (its repository does not exist)
    source = GitSource("file:///nonexistent/mycli-contract.git", "main", credential="u:token")

    # When it is launched, then stopped
    result = runner.runner.launch(LaunchSpec("e1", "true", {}, 60, git=source))
    launched = started_execution("e1", "true", result.task_ref, result.log_stream_name)
    runner.runner.stop(launched, "test over")

    # Then it had a task and a log stream, and it ends
    assert launched.task_ref and launched.log_stream_name
    assert runner.is_stopped(launched)


def test_a_launch_that_cannot_start_raises_launch_failed(runner: RunnerHarness) -> None:
    runner.break_launches()
    with pytest.raises(LaunchFailed):
        runner.launch("e1", "true")


def test_stop_ends_the_task(runner: RunnerHarness) -> None:
    launched = runner.launch("e1", "sleep 30")

    runner.runner.stop(launched, "cancelled by admin@x.io")

    assert runner.is_stopped(launched)


def test_stopping_a_task_that_never_ran_is_harmless(runner: RunnerHarness) -> None:
    runner.runner.stop(started_execution("e9", "x", None, None), "cancelled")


def test_lost_names_only_executions_whose_task_is_gone(runner: RunnerHarness) -> None:
    alive = runner.launch("alive", "sleep 30")
    phantom = started_execution("phantom", "x", runner.phantom_task_ref, "phantom.log")

    assert runner.runner.lost([alive, phantom]) == {"phantom"}
    runner.runner.stop(alive, "test over")


def run_inputs(settings: Any) -> RunInputs:
    return RunInputs(
        boto3.client("s3", region_name=REGION, config=SIGV4),
        settings.code_bucket,
        KmsEnvSealer(
            boto3.client("kms", region_name=REGION), settings.env_key, settings.task_role_arn
        ),
        clock=FakeClock(),
        max_log_bytes=1024,
    )


def test_the_ecs_task_carries_the_execution_id_and_manifest_not_the_command(aws: Any) -> None:
    ecs = boto3.client("ecs", region_name=REGION)
    runner = EcsRunner(
        ecs,
        cluster=aws.cluster,
        task_definition=aws.task_definition,
        subnets=aws.subnets,
        security_groups=aws.security_groups,
        log_stream_prefix="exec",
        inputs=run_inputs(aws),
        results=S3RunResults(boto3.client("s3", region_name=REGION), aws.code_bucket),
    )

    result = runner.launch(LaunchSpec("e1", "terraform apply", {"TOKEN": "secret"}, 60))

    [task] = ecs.describe_tasks(cluster=aws.cluster, tasks=[result.task_ref], include=["TAGS"])[
        "tasks"
    ]
    [override] = task["overrides"]["containerOverrides"]
    assert task["taskDefinitionArn"] == aws.task_definition
    assert override["name"] == "agent" and "command" not in override
    assert {"name": "MYCLI_EXECUTION_ID", "value": "e1"} in override["environment"]
    assert "terraform apply" not in json.dumps(task, default=str)
    assert "secret" not in json.dumps(task["overrides"])
    assert task["startedBy"] == "e1"
    assert {"key": EXECUTION_TAG, "value": "e1"} in task["tags"]
    assert result.log_stream_name == f"exec/agent/{result.task_ref.rsplit('/', 1)[-1]}"
