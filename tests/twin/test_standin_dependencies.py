"""The stand-in starts containers as their dependsOn conditions are met (START, COMPLETE,
SUCCESS), never starts one whose condition cannot be met, and stops the task when an
essential container exits. Real processes; order is read from the files they write."""

from __future__ import annotations

from pathlib import Path

from twin.ecs import EcsStandIn
from twin_ecs import Events, container, containers_of, definition, finished, workspace


def test_given_a_start_condition_then_the_dependent_starts_while_the_dependency_runs(
    standin: EcsStandIn, events: Events
) -> None:
    # The sidecar waits for a file only the dependent writes: both must run at once.
    task = standin.run_task(
        definition(
            container(
                "sidecar",
                "while [ ! -f /mycli/ready ]; do sleep 0.01; done; "
                "echo saw-ready; touch /mycli/ack",
                essential=False,
                **workspace(),
            ),
            container(
                "main",
                # (then a moment for the sidecar to exit by itself: main's end stops the task)
                "touch /mycli/ready; while [ ! -f /mycli/ack ]; do sleep 0.01; done; sleep 1",
                depends_on=[("sidecar", "START")],
                **workspace(),
            ),
            volumes=["workspace"],
        )
    )

    finished(task)

    assert task.output("sidecar") == b"saw-ready\n"
    codes = {n: c.get("exitCode") for n, c in containers_of(events.last(task)).items()}
    assert codes == {"sidecar": 0, "main": 0}


def test_given_a_start_condition_on_a_container_that_already_exited_then_the_dependent_still_starts(
    standin: EcsStandIn,
) -> None:
    task = standin.run_task(
        definition(
            container("quick", "exit 0", essential=False),
            container("main", "sleep 0.2; echo ran", depends_on=[("quick", "START")]),
        )
    )

    assert finished(task).output("main") == b"ran\n"


def test_given_complete_conditions_then_each_step_starts_after_the_previous_ended_whatever_its_code(
    standin: EcsStandIn, events: Events
) -> None:
    task = standin.run_task(
        definition(
            container(
                "first",
                "sleep 0.1; echo first >> /mycli/order; exit 3",
                essential=False,
                **workspace(),
            ),
            container(
                "second",
                "echo second >> /mycli/order",
                essential=False,
                depends_on=[("first", "COMPLETE")],
                **workspace(),
            ),
            container(
                "main", "cat /mycli/order", depends_on=[("second", "COMPLETE")], **workspace()
            ),
            volumes=["workspace"],
        )
    )

    assert finished(task).output("main") == b"first\nsecond\n"
    codes = {n: c.get("exitCode") for n, c in containers_of(events.last(task)).items()}
    assert codes == {"first": 3, "second": 0, "main": 0}


def test_given_a_success_condition_met_then_the_dependent_runs(standin: EcsStandIn) -> None:
    task = standin.run_task(
        definition(
            container("setup", "echo prepared > /mycli/state", essential=False, **workspace()),
            container("main", "cat /mycli/state", depends_on=[("setup", "SUCCESS")], **workspace()),
            volumes=["workspace"],
        )
    )

    assert finished(task).output("main") == b"prepared\n"


def test_given_a_success_condition_when_the_dependency_fails_then_the_dependent_never_starts(
    standin: EcsStandIn, events: Events, tmp_path: Path
) -> None:
    marker = tmp_path / "main-ran"
    task = standin.run_task(
        definition(
            container("setup", "echo broken >&2; exit 4", essential=False),
            container(
                "main",
                'touch "$MARKER"',
                depends_on=[("setup", "SUCCESS")],
                environment=[{"name": "MARKER", "value": str(marker)}],
            ),
        )
    )

    detail = events.last(finished(task))

    assert not marker.exists()
    assert task.output("setup", "stderr") == b"broken\n"
    assert detail["lastStatus"] == "STOPPED"
    assert detail["stopCode"] == "EssentialContainerExited"
    assert detail["stoppedReason"] == "Essential container in task exited"
    setup, main = containers_of(detail)["setup"], containers_of(detail)["main"]
    assert setup["exitCode"] == 4
    # As the ECS agent reports it (amazon-ecs-agent#3218): 143 and the unmet dependency.
    assert main["exitCode"] == 143
    assert main["reason"].startswith("CannotStartContainerError: dependency graph")
    assert "[setup] (SUCCESS)" in main["reason"] and "exited with code 4" in main["reason"]


def test_given_a_chain_of_success_conditions_when_the_first_fails_then_none_after_it_starts(
    standin: EcsStandIn, events: Events
) -> None:
    task = standin.run_task(
        definition(
            container("fetch", "exit 1", essential=False),
            container(
                "prepare", "echo prepare", essential=False, depends_on=[("fetch", "SUCCESS")]
            ),
            container("main", "echo main", depends_on=[("prepare", "SUCCESS")]),
        )
    )

    detail = events.last(finished(task))

    assert task.output("prepare") == b"" and task.output("main") == b""
    assert [c.get("exitCode") for c in detail["containers"]] == [1, 143, 143]


def test_given_an_essential_container_that_exits_then_the_others_are_stopped(
    standin: EcsStandIn, events: Events
) -> None:
    task = standin.run_task(
        definition(
            container(
                "sidecar",
                "trap 'echo got-term; exit 7' TERM; while :; do sleep 0.05; done",
                essential=False,
            ),
            container("main", "sleep 0.3; exit 2", depends_on=[("sidecar", "START")]),
        )
    )

    detail = events.last(finished(task))

    assert detail["stopCode"] == "EssentialContainerExited"
    codes = {n: c.get("exitCode") for n, c in containers_of(detail).items()}
    assert codes == {"sidecar": 7, "main": 2}
    assert task.output("sidecar") == b"got-term\n"


def test_given_a_non_essential_container_that_exits_then_the_task_keeps_running(
    standin: EcsStandIn, events: Events
) -> None:
    task = standin.run_task(
        definition(
            container("helper", "exit 5", essential=False),
            container("main", "sleep 0.3; echo still-here"),
        )
    )

    detail = events.last(finished(task))

    assert task.output("main") == b"still-here\n"
    assert containers_of(detail)["main"]["exitCode"] == 0
    # The helper's exit was reported while the task ran.
    running = [e["detail"] for e in events.of(task) if e["detail"]["lastStatus"] == "RUNNING"]
    assert any(containers_of(d)["helper"].get("exitCode") == 5 for d in running)


def test_given_an_executable_that_does_not_exist_then_the_task_fails_to_start(
    standin: EcsStandIn, events: Events
) -> None:
    task = standin.run_task(
        definition(
            {"name": "main", "image": "busybox", "command": ["/no/such/program", "x"]},
        )
    )

    detail = events.last(finished(task))

    assert detail["stopCode"] == "TaskFailedToStart"
    assert detail["stoppedReason"] == (
        "CannotStartContainerError: executable file not found: /no/such/program"
    )
    assert "exitCode" not in containers_of(detail)["main"]
