"""StopTask (SIGTERM, the stopTimeout, SIGKILL of the group; dependents first) and the
"ECS Task State Change" events, read by the platform's own parser."""

from __future__ import annotations

import time

from orchestrator.adapters.aws.task_events import parse_task_state_change
from twin.ecs import EcsStandIn
from twin_ecs import Events, container, containers_of, definition, finished


def test_given_a_sleeping_task_when_stopped_then_it_ends_within_the_grace_with_the_reason(
    standin: EcsStandIn, events: Events
) -> None:
    task = standin.run_task(definition(container("main", "sleep 30")), started_by="exec-1")
    _wait_for(lambda: "RUNNING" in events.statuses(task))

    began = time.monotonic()
    standin.stop_task(task.arn, "cancelled by alice@example.com")
    finished(task, timeout=3)

    assert time.monotonic() - began < 1.5
    detail = events.last(task)
    assert detail["stopCode"] == "UserInitiated"
    assert detail["stoppedReason"] == "cancelled by alice@example.com"
    assert containers_of(detail)["main"]["exitCode"] == 143  # SIGTERM, as Docker reports it


def test_given_a_container_ignoring_sigterm_when_stopped_then_it_is_killed_after_its_timeout(
    standin: EcsStandIn, events: Events
) -> None:
    task = standin.run_task(
        definition(
            container(
                "stubborn",
                "trap '' TERM; echo ready; sleep 30 & wait",
                stopTimeout=1,
            )
        )
    )
    _wait_for(lambda: task.output("stubborn") == b"ready\n")

    began = time.monotonic()
    standin.stop_task(task.arn)
    finished(task, timeout=4)

    assert 0.9 < time.monotonic() - began < 3
    detail = events.last(task)
    assert detail["stoppedReason"] == "Task stopped by user"
    assert containers_of(detail)["stubborn"]["exitCode"] == 137  # SIGKILL


def test_given_dependencies_when_the_task_stops_then_dependents_are_stopped_first(
    standin: EcsStandIn, events: Events, tmp_path: object
) -> None:
    log = f"{tmp_path}/stop-order"
    task = standin.run_task(
        definition(
            container(
                "base",
                f"trap 'echo base >> {log}; exit 0' TERM; while :; do sleep 0.02; done",
                essential=False,
            ),
            container(
                "app",
                f"trap 'sleep 0.2; echo app >> {log}; exit 0' TERM; while :; do sleep 0.02; done",
                depends_on=[("base", "START")],
            ),
        )
    )
    _wait_for(lambda: "RUNNING" in events.statuses(task))
    time.sleep(0.1)  # both traps set

    standin.stop_task(task.arn, "done")
    finished(task)

    with open(log) as order:
        assert order.read().split() == ["app", "base"]


def test_given_a_task_when_it_runs_then_its_events_come_in_order_with_exit_codes(
    standin: EcsStandIn, events: Events
) -> None:
    task = standin.run_task(
        definition(container("main", "echo out; exit 3")),
        cluster_arn="arn:aws:ecs:eu-west-1:123456789012:cluster/mycli",
        started_by="exec-42",
        overrides={"containerOverrides": [{"name": "main"}], "cpu": "512", "memory": "1024"},
    )

    finished(task)

    assert events.statuses(task) == ["PROVISIONING", "PENDING", "RUNNING", "STOPPED"]
    versions = [e["detail"]["version"] for e in events.of(task)]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    event = events.of(task)[-1]
    assert event["detail-type"] == "ECS Task State Change" and event["source"] == "aws.ecs"
    assert event["resources"] == [task.arn]
    detail = event["detail"]
    assert detail["clusterArn"] == "arn:aws:ecs:eu-west-1:123456789012:cluster/mycli"
    assert task.arn.startswith("arn:aws:ecs:eu-west-1:123456789012:task/mycli/")
    assert detail["startedBy"] == "exec-42" and detail["group"] == "family:twin"
    assert detail["desiredStatus"] == "STOPPED"
    assert (detail["cpu"], detail["memory"]) == ("512", "1024")
    assert detail["overrides"]["containerOverrides"] == [{"name": "main"}]
    assert detail["taskDefinitionArn"].endswith(":task-definition/twin:1")
    assert containers_of(detail)["main"] == {
        **containers_of(detail)["main"],
        "lastStatus": "STOPPED",
        "exitCode": 3,
    }
    assert task.describe()["lastStatus"] == "STOPPED"


def test_given_stand_in_events_when_the_platforms_parser_reads_them_then_it_gets_the_run_facts(
    standin: EcsStandIn, events: Events
) -> None:
    task = standin.run_task(
        definition(
            container("agent", "exit 6"),
            container("command", "sleep 30", essential=False, depends_on=[("agent", "START")]),
        ),
        started_by="exec-7",
    )

    finished(task)
    changes = [parse_task_state_change(e) for e in events.of(task)]

    assert all(c is not None and c.execution_id == "exec-7" for c in changes)
    stopped = changes[-1]
    assert stopped is not None
    assert stopped.last_status == "STOPPED"
    assert stopped.task_ref == task.arn
    assert stopped.stop_code == "EssentialContainerExited"
    assert stopped.stopped_reason == "Essential container in task exited"
    assert stopped.exit_code == 143  # the command, stopped when the essential agent exited


def test_given_a_finished_task_when_stopped_again_then_nothing_changes(
    standin: EcsStandIn, events: Events
) -> None:
    task = finished(standin.run_task(definition(container("main", "exit 0"))))
    count = len(events.of(task))

    standin.stop_task(task.arn, "late")

    assert len(events.of(task)) == count
    assert task.describe()["stopCode"] == "EssentialContainerExited"


def _wait_for(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)
