"""Fault cases on the Fargate twin: the run agent killed mid-run, the command's container
killed, the output store refusing a write, the task-events function failing (its events
dead-lettered, the reaper settling the run), StopTask failing on a cancel or a timeout (the
reaper stopping it again). Each ends the run with what happened (never 141 or TIMED_OUT for
a fault), frees its lock and returns its quota slot.

Twin only: these faults are of the AWS task and its plumbing (its two containers, the agent,
the S3 output store, EventBridge's delivery, ECS's StopTask); the embedded platform has none
of them. The twin's test hooks (docs/aws-twin.md) find a container's processes
(MYCLI_TWIN_CONTAINER) and, through files in the run dir's faults/, make the S3 front refuse
a run's output POSTs, the task-events function fail, and StopTask fail."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from deployment import TERMINAL, LocalDeployment
from twin.daemon import REFUSED_POSTS_FILE, RUN_MARKER
from twin.ecs.tasks import CONTAINER_MARKER
from twin.faults import DIE_AFTER_PROMOTION_FILE, FAILED_STOP_TASKS_FILE, FAILED_TASK_EVENTS_FILE
from twin.runstate import marked_processes
from twin_deployment import TwinDeployment, agent_pids, environ_of

pytestmark = pytest.mark.twin_only(
    "fault cases of the AWS task (its agent, its command container, the S3 output store)"
)

WAIT_SECONDS = 60.0
# The agent's grace once the command's streams end without an exit, plus the task's end
# and its event: "promptly", far under any run's timeout.
PROMPT_SECONDS = 15.0


def twin(deployment: LocalDeployment) -> TwinDeployment:
    assert isinstance(deployment, TwinDeployment)
    return deployment


def start(deployment: LocalDeployment, command: str, *options: str, lock: str = "faults") -> str:
    """A detached run holding `lock`, with an env value (so a KMS grant); its id once its
    command has touched `started`."""
    result = deployment.mycli(
        "exec", "-d", "--lock", lock, "-e", "FAULT=1", *options, "--", command, check=True
    )
    execution_id = result.stdout.strip()
    workspace = task_dir(twin(deployment), execution_id) / "volumes" / "workspace"
    wait_until((workspace / "work" / "started").exists, "the command never started")
    return execution_id


def task_dir(deployment: TwinDeployment, execution_id: str) -> Path:
    """The stand-in's directory of this run's task (found through its agent's marker)."""
    found: list[str] = []

    def agent_found() -> bool:
        for pid in agent_pids(deployment, execution_id):
            marker = environ_of(pid).get(CONTAINER_MARKER, "")
            if marker.endswith("/agent"):
                found.append(marker.split("/", 1)[0])
                return True
        return False

    wait_until(agent_found, "the run's agent never started")
    return deployment.run_dir / "tasks" / found[0]


def container_pids(deployment: TwinDeployment, execution_id: str, name: str) -> list[int]:
    task_id = task_dir(deployment, execution_id).name
    return [
        pid
        for pid in marked_processes(CONTAINER_MARKER, f"{task_id}/{name}")
        if environ_of(pid).get(RUN_MARKER) == str(deployment.run_dir)
    ]


def kill(pids: list[int]) -> None:
    assert pids, "no process to kill"
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def wait_until(condition: Callable[[], bool], why: str, timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, why
        time.sleep(0.05)


def assert_lock_freed(deployment: LocalDeployment, execution_id: str, lock: str = "faults") -> None:
    assert_released(deployment, execution_id)
    again = deployment.mycli("exec", "--lock", lock, "--", "echo again", timeout=120)
    assert (again.returncode, again.stdout) == (0, "again\n"), again.stderr


def assert_quota_returned(deployment: LocalDeployment) -> None:
    """Nothing counts as running any more (the admin's own count and the platform's)."""
    figures = json.loads(deployment.mycli("quota", "-o", "json", check=True).stdout)
    assert (figures["running"], figures["total_running"]) == (0, 0), figures


def assert_released(deployment: LocalDeployment, execution_id: str) -> None:
    """The run's lock, quota slot and KMS grant are gone (cheaper than assert_lock_freed's
    new run: CI's twin budget)."""
    assert deployment.locks() == []
    assert_quota_returned(deployment)
    assert twin(deployment).grants_of(execution_id) == []


def hook(deployment: LocalDeployment, name: str, line: str) -> Path:
    """Write one fault hook file of the twin (docs/aws-twin.md, Test hooks)."""
    path = twin(deployment).run_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{line}\n")
    return path


def dead_letters(deployment: LocalDeployment) -> list[str]:
    """The bodies of the messages in the twin's queues (the task events' dead letters)."""
    sqs = twin(deployment).client("sqs")
    bodies: list[str] = []
    for url in sqs.list_queues().get("QueueUrls", []):
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        bodies += [message["Body"] for message in received.get("Messages", [])]
    return bodies


def test_the_run_agent_killed_mid_run_fails_the_run_and_frees_its_lock(
    deployment: LocalDeployment,
) -> None:
    # Given a run whose command is printing
    execution_id = start(deployment, "touch started; while :; do echo tick; sleep 0.1; done")

    # When its run agent is killed
    kill(agent_pids(twin(deployment), execution_id))
    final = deployment.wait_status(execution_id, TERMINAL, timeout=WAIT_SECONDS)

    # Then the run failed saying the agent stopped: not 141, not TIMED_OUT; the lock is free
    assert final["status"] == "FAILED", final
    assert final["reason"].startswith("the run agent stopped"), final
    assert final["exit_code"] != 141
    assert_lock_freed(deployment, execution_id)


def test_the_command_container_killed_ends_the_run_promptly_with_137(
    deployment: LocalDeployment,
) -> None:
    # Given a run whose command has printed (its first tick before `started`)
    execution_id = start(
        deployment, "echo tick; touch started; while :; do echo tick; sleep 0.1; done"
    )
    deployment_twin = twin(deployment)

    # When every process of its command container is killed (SIGKILL, as on OOM)
    killed_at = time.monotonic()
    kill(container_pids(deployment_twin, execution_id, "command"))
    final = deployment.wait_status(execution_id, TERMINAL, timeout=WAIT_SECONDS)

    # Then it ended promptly (not at its timeout) FAILED with 137, and the lock is free
    assert time.monotonic() - killed_at < PROMPT_SECONDS
    assert (final["status"], final["exit_code"]) == ("FAILED", 137), final
    assert final["reason"].startswith("exited with code 137"), final
    logs = deployment.mycli("logs", execution_id, check=True)
    assert logs.stdout.startswith("tick\n")
    assert_lock_freed(deployment, execution_id)


@pytest.mark.parametrize(
    ("refused", "reason"),
    [
        # the segments refused, the result stored: the agent's own words
        ("output/0", "the output store refused a write: "),
        # everything refused, the result too: the agent's exit code says it
        ("", "the run agent stopped (exit code 5: the output store refused a write)"),
    ],
)
def test_the_output_store_refusing_a_write_fails_the_run_and_frees_its_lock(
    deployment: LocalDeployment, refused: str, reason: str
) -> None:
    # Given a run that prints only after a while, and the S3 front told to refuse its
    # output POSTs (segments only, or every object of the run)
    execution_id = start(deployment, "touch started; sleep 1; echo hello; sleep 1; echo more")
    refusals = twin(deployment).run_dir / REFUSED_POSTS_FILE
    refusals.parent.mkdir(parents=True, exist_ok=True)
    refusals.write_text(f"runs/{execution_id}/{refused}\n")

    # When the agent stores the output
    final = deployment.wait_status(execution_id, TERMINAL, timeout=WAIT_SECONDS)
    refusals.write_text("")

    # Then the run failed with a reason naming the output store, and the lock is free
    assert final["status"] == "FAILED", final
    assert final["reason"].startswith(reason), final
    assert_lock_freed(deployment, execution_id)


def test_cancel_and_timeout_end_the_run_cancelled_and_timed_out(
    deployment: LocalDeployment,
) -> None:
    # Given a followed run whose shell ignores TERM
    following = deployment.spawn(
        "exec", "--lock", "faults", "-e", "FAULT=1", "--", "trap '' TERM; sleep 60"
    )
    assert following.stdout is not None

    def lock_taken() -> bool:
        if following.poll() is not None:
            _, early = following.communicate()
            raise AssertionError(f"exec ended ({following.returncode}) first: {early}")
        return deployment.locks() != []

    wait_until(lock_taken, "the run never took its lock")
    [lock] = deployment.locks()
    execution_id = lock["holder"]["execution_id"]
    wait_until(lambda: deployment.execution(execution_id)["status"] == "RUNNING", "never RUNNING")

    # When it is cancelled, and another run goes past its timeout
    deployment.mycli("cancel", execution_id, check=True)
    _, errors = following.communicate(timeout=WAIT_SECONDS)
    timed_out = deployment.mycli("exec", "--timeout", "2", "--", "sleep 60", timeout=120)

    # Then each ends as it should, with mycli's codes (130, 124), the lock free
    cancelled = deployment.execution(execution_id)
    assert (cancelled["status"], following.returncode) == ("CANCELLED", 130), errors
    assert (timed_out.returncode, "TIMED_OUT" in timed_out.stderr) == (124, True)
    assert deployment.execution(execution_id)["status"] == "CANCELLED"
    assert_released(deployment, execution_id)


def test_task_events_failing_are_dead_lettered_and_the_reaper_settles_the_run(
    deployment: LocalDeployment,
) -> None:
    # Given a run whose task events the task-events function fails on, every retry
    execution_id = start(deployment, "touch started; sleep 1; exit 3")
    hook(deployment, FAILED_TASK_EVENTS_FILE, execution_id)

    # When its task stops
    final = deployment.wait_status(execution_id, TERMINAL, timeout=WAIT_SECONDS)

    # Then the reaper settled it from DescribeTasks and the agent's result (its exit code
    # kept), its STOPPED event went to the dead-letter queue, its lock and quota are free
    assert (final["status"], final["exit_code"], final["reason"]) == (
        "FAILED",
        3,
        "exited with code 3",
    ), final
    wait_until(
        lambda: any(execution_id in body for body in dead_letters(deployment)),
        "no dead letter for the run",
    )
    assert_released(deployment, execution_id)


def test_a_cancel_whose_stop_task_fails_is_stopped_by_the_reaper(
    deployment: LocalDeployment,
) -> None:
    # Given a running run, and StopTask failing twice for its task
    execution_id = start(deployment, "touch started; sleep 60")
    failures = hook(deployment, FAILED_STOP_TASKS_FILE, f"{execution_id} 2")

    # When it is cancelled (the cancel's own StopTask fails, then the reaper's first)
    cancel = deployment.mycli("cancel", execution_id)
    final = deployment.wait_status(execution_id, TERMINAL, timeout=WAIT_SECONDS)

    # Then the cancel was answered (CANCELLING, not a 5xx), and a later reaper pass stopped
    # it: CANCELLED, lock and quota free
    assert cancel.returncode == 0, cancel.stderr
    assert failures.read_text() == f"{execution_id} 0\n"
    assert final["status"] == "CANCELLED", final
    assert_released(deployment, execution_id)


def test_a_timeout_whose_stop_task_fails_is_stopped_again_by_the_reaper(
    deployment: LocalDeployment,
) -> None:
    # Given a run past its timeout soon, and StopTask failing once for its task
    execution_id = start(deployment, "touch started; sleep 60", "--timeout", "2")
    failures = hook(deployment, FAILED_STOP_TASKS_FILE, f"{execution_id} 1")

    # When the reaper stops it at its deadline
    final = deployment.wait_status(execution_id, TERMINAL, timeout=WAIT_SECONDS)

    # Then its first stop failed, the next pass stopped it: TIMED_OUT, lock and quota free
    assert failures.read_text() == f"{execution_id} 0\n"
    assert (final["status"], final["reason"]) == ("TIMED_OUT", "timed out after 2s"), final
    assert_released(deployment, execution_id)


def test_a_promoter_killed_after_the_promotion_leaves_the_queue_draining(
    deployment: LocalDeployment,
) -> None:
    # Given a run holding the lock and a run queued behind it, with an env value (sealed)
    holder = start(deployment, "touch started; sleep 2")
    queued = deployment.mycli(
        "exec",
        "-d",
        "--lock",
        "faults",
        "--wait-lock",
        "5m",
        "-e",
        "SEALED=yes",
        "--",
        'echo "$SEALED"',
        check=True,
    ).stdout.strip()
    assert deployment.execution(queued)["status"] == "QUEUED"
    # And the function that promotes it dies right after giving it the lock
    killed = hook(deployment, DIE_AFTER_PROMOTION_FILE, f"{queued} 1")

    # When the holder ends
    final = deployment.wait_status(queued, TERMINAL, timeout=WAIT_SECONDS)

    # Then the promoter did die, yet the queued run ran (once, with its value) and ended
    assert killed.read_text() == f"{queued} 0\n"
    assert (final["status"], final["exit_code"]) == ("SUCCEEDED", 0), final
    assert deployment.mycli("logs", queued, check=True).stdout == "yes\n"
    ecs = twin(deployment).client("ecs")
    tasks = [
        arn
        for cluster in ecs.list_clusters()["clusterArns"]
        for status in ("RUNNING", "STOPPED")
        for arn in ecs.list_tasks(cluster=cluster, startedBy=queued[:36], desiredStatus=status)[
            "taskArns"
        ]
    ]
    assert len(tasks) == 1, tasks
    assert deployment.execution(holder)["status"] == "SUCCEEDED"
    assert_released(deployment, queued)
