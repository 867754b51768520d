"""Fargate's start latency on the twin (twin/ecs/start_delay.py): a task stays PROVISIONING,
then PENDING, for the delay before its containers start; its RUNNING event comes after it;
StopTask during it stops the task before any container starts. moto's DescribeTasks follows
(twin/moto_task_status.py), and `aws-twin set` changes the delay of a running twin."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from twin.cli import main as aws_twin
from twin.ecs import EcsStandIn, StartDelaySetting
from twin.ecs.start_delay import parse_start_delay
from twin.moto_bridge import MotoEcsBridge
from twin.moto_task_status import mirror_status, tasks_start_provisioning
from twin.runstate import STATE_FILE
from twin_ecs import Events, container, definition, finished, new_standin

DELAY = 1.0
REGION = "eu-west-1"


def _eventually(probe: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := probe()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
    return found


@pytest.fixture
def delayed(tmp_path: Path, events: Events) -> Iterator[EcsStandIn]:
    setting = StartDelaySetting(tmp_path)
    setting.write(DELAY)
    standin = new_standin(tmp_path / "tasks", events, start_delay=setting)
    yield standin
    standin.close(timeout=5)


def test_given_a_start_delay_then_the_task_is_provisioning_then_pending_before_it_runs(
    delayed: EcsStandIn, events: Events, tmp_path: Path
) -> None:
    began = time.monotonic()
    task = delayed.run_task(definition(container("main", f"touch {tmp_path}/started; sleep 5")))

    assert task.describe()["lastStatus"] == "PROVISIONING"
    _eventually(lambda: task.describe()["lastStatus"] == "PENDING")
    assert not (tmp_path / "started").exists()
    _eventually(lambda: "RUNNING" in events.statuses(task))

    assert time.monotonic() - began >= DELAY
    assert events.statuses(task) == ["PROVISIONING", "PENDING", "RUNNING"]
    _eventually((tmp_path / "started").exists)


def test_given_a_task_stopped_during_its_start_delay_then_no_container_starts(
    delayed: EcsStandIn, events: Events, tmp_path: Path
) -> None:
    task = delayed.run_task(definition(container("main", f"touch {tmp_path}/started")))
    _eventually(lambda: task.describe()["lastStatus"] == "PENDING")

    delayed.stop_task(task.arn, "the pool shrank")
    finished(task, timeout=1)

    detail = events.last(task)
    assert events.statuses(task) == ["PROVISIONING", "PENDING", "STOPPED"]
    assert (detail["stopCode"], detail["stoppedReason"]) == ("UserInitiated", "the pool shrank")
    assert [c.get("exitCode") for c in detail["containers"]] == [None]
    time.sleep(DELAY)
    assert not (tmp_path / "started").exists()


def test_given_the_setting_changed_then_only_tasks_started_afterwards_take_the_new_delay(
    tmp_path: Path, events: Events
) -> None:
    setting = StartDelaySetting(tmp_path)
    standin = new_standin(tmp_path / "tasks", events, start_delay=setting)
    try:
        setting.write(30)
        slow = standin.run_task(definition(container("main", "sleep 5")))
        setting.write(0)
        fast = standin.run_task(definition(container("main", "sleep 5")))

        _eventually(lambda: "RUNNING" in events.statuses(fast), timeout=3)
        assert slow.describe()["lastStatus"] in ("PROVISIONING", "PENDING")
    finally:
        standin.close(timeout=5)


def test_given_a_setting_written_by_hand_then_a_bad_one_means_no_delay(tmp_path: Path) -> None:
    setting = StartDelaySetting(tmp_path)
    assert setting() == 0.0
    setting.path.write_text("2.5\n")
    assert setting() == 2.5
    for bad in ("soon", "-1", "nan", "601"):
        setting.path.write_text(bad)
        assert setting() == 0.0
        with pytest.raises(ValueError, match=bad):
            parse_start_delay(bad)


def test_given_aws_twin_set_then_a_bad_delay_is_refused_and_a_stopped_twin_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as refused:
        aws_twin(["set", "--dir", str(tmp_path), "--task-start-delay", "-3"])
    assert refused.value.code == 2
    assert "not within 0 to 600 seconds" in capsys.readouterr().err

    assert aws_twin(["set", "--dir", str(tmp_path), "--task-start-delay", "4"]) == 1
    assert "not running" in capsys.readouterr().err
    (tmp_path / STATE_FILE).write_text('{"pid": 1, "url": "http://127.0.0.1:1"}')
    assert aws_twin(["set", "--dir", str(tmp_path), "--task-start-delay", "4"]) == 0
    assert StartDelaySetting(tmp_path)() == 4.0


def test_given_moto_and_a_start_delay_then_describe_tasks_follows_the_task_to_running(
    moto_server: str, tmp_path: Path
) -> None:
    ecs = boto3.client(
        "ecs",
        endpoint_url=moto_server,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    cluster = ecs.create_cluster(clusterName=f"twin-{uuid.uuid4().hex[:8]}")["cluster"]
    task_definition = ecs.register_task_definition(
        family="twin-delayed",
        containerDefinitions=[
            {"name": "main", "image": "busybox", "memory": 128, "command": ["sleep", "5"]}
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    events = Events()

    def deliver(event: dict[str, Any]) -> None:
        mirror_status(event["detail"])
        events(event)

    setting = StartDelaySetting(tmp_path)
    setting.write(DELAY)
    standin = EcsStandIn(tmp_path / "tasks", events=deliver, start_delay=setting)
    bridge = MotoEcsBridge(
        ecs, standin, cluster=cluster["clusterArn"], interval=0.05, moto_url=moto_server
    )

    def status(arn: str) -> str:
        [task] = ecs.describe_tasks(cluster=cluster["clusterArn"], tasks=[arn])["tasks"]
        return str(task["lastStatus"])

    with tasks_start_provisioning(), bridge:
        try:
            arn = ecs.run_task(
                cluster=cluster["clusterArn"], taskDefinition=task_definition, launchType="FARGATE"
            )["tasks"][0]["taskArn"]
            assert status(arn) in ("PROVISIONING", "PENDING")
            _eventually(lambda: status(arn) == "PENDING")
            _eventually(lambda: status(arn) == "RUNNING")
            assert "RUNNING" in [e["detail"]["lastStatus"] for e in events.all()]

            ecs.stop_task(cluster=cluster["clusterArn"], task=arn, reason="done")
            _eventually(lambda: "STOPPED" in [e["detail"]["lastStatus"] for e in events.all()])
            assert status(arn) == "STOPPED"
        finally:
            standin.close(timeout=5)
