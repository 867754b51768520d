"""Against a real `mycli local up`: the running-execution quota (refusal with exit 5 and the
figures, acceptance once runs finish), no lock left behind by a create that fails, and every
process of a run ending with it (setsid and double-forked children, for exit, timeout and
cancel), found by scanning /proc for the run's marker."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from deployment import TERMINAL, LocalDeployment, running_deployment
from processes import marked

pytestmark = [pytest.mark.e2e, pytest.mark.both_backends]
# On AWS every process of a task ends with its containers (ECS stops them whole); the twin's
# stand-in runs them as host processes found by the run's marker only in the embedded runner.
ESCAPED = (
    "escaped children are the embedded runner's to track (a marker in /proc); on AWS they "
    "end with the task's containers, which the twin's stand-in (host processes) does not model"
)

ESCAPES = {
    "setsid": "setsid sleep 60 &",
    "double-fork": "sh -c '(sleep 60 &) &';",
}


def wait_for(condition: object, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDeployment]:
    with running_deployment(
        tmp_path_factory.mktemp("limits"), "--max-running-per-user", "2", "--max-running-total", "3"
    ) as local:
        yield local


def detach(platform: LocalDeployment, *args: str, key: str | None = None) -> str:
    result = platform.mycli("exec", "--detach", "-o", "json", *args, key=key, check=True)
    execution_id: str = json.loads(result.stdout)["execution_id"]
    return execution_id


def test_over_the_quota_exec_exits_5_then_runs_once_one_finishes(
    platform: LocalDeployment,
) -> None:
    # Given Alice with her two allowed runs going
    alice = platform.add_user("alice-quota@example.com")
    running = [detach(platform, "--", "sleep 30", key=alice) for _ in range(2)]

    # When she asks for a third, Then it is refused at once with the figures (exit 5)
    started = time.monotonic()
    refused = platform.mycli("exec", "--", "true", key=alice)
    assert refused.returncode == 5, refused.stderr
    assert time.monotonic() - started < 10, "a quota refusal is not retried"
    assert "too many executions: you have 2 running, the limit is 2 per user" in refused.stderr
    figures = json.loads(platform.mycli("quota", "-o", "json", key=alice, check=True).stdout)
    assert figures == {
        "max_running_per_user": 2,
        "max_running_total": 3,
        "running": 2,
        "total_running": None,
    }
    assert "2 of 3 in total" in platform.mycli("quota", check=True).stdout

    # When one of hers finishes, Then she runs again
    platform.mycli("cancel", running[0], key=alice, check=True)
    platform.wait_status(running[0], TERMINAL)
    accepted = platform.mycli("exec", "--", "echo again", key=alice)
    assert (accepted.returncode, accepted.stdout) == (0, "again\n"), accepted.stderr
    platform.mycli("cancel", running[1], key=alice, check=True)
    platform.wait_status(running[1], TERMINAL)


@pytest.mark.parametrize(
    "body",
    [
        {"command": "echo \u0000 nul", "lock": "nul-command"},
        {"command": "echo hi", "lock": "nul-env", "env": {"VALUE": "a\u0000b"}},
    ],
    ids=["command", "env-value"],
)
def test_a_nul_byte_never_leaves_the_lock_held(platform: LocalDeployment, body: dict) -> None:
    # When a create carries a NUL byte (whatever status it gets)
    status, _ = platform.api("POST", "/executions", platform.admin_key, body)
    assert status < 500

    # Then its lock is free: the next run on it goes through
    wait_for(lambda: all(lock["name"] != body["lock"] for lock in platform.locks()))
    again = platform.mycli("exec", "--lock", body["lock"], "--", "echo free")
    assert (again.returncode, again.stdout) == (0, "free\n"), again.stderr


@pytest.mark.embedded_only(ESCAPED)
@pytest.mark.parametrize("escape", sorted(ESCAPES))
def test_an_escaped_child_ends_with_the_command_and_does_not_hold_it(
    platform: LocalDeployment, escape: str
) -> None:
    # Given a command leaving an escaped child that holds its output pipes
    started = time.monotonic()
    result = platform.mycli("exec", "--", f"{ESCAPES[escape]} echo done")

    # Then mycli exec returns with the command, not with the child
    assert (result.returncode, result.stdout) == (0, "done\n"), result.stderr
    assert time.monotonic() - started < 5
    (execution,) = json.loads(
        platform.mycli("list", "--limit", "1", "-o", "json", check=True).stdout
    )["items"]
    assert execution["status"] == "SUCCEEDED"
    assert marked(execution["execution_id"]) == []


@pytest.mark.embedded_only(ESCAPED)
@pytest.mark.parametrize("escape", sorted(ESCAPES))
def test_an_escaped_child_ends_when_the_command_times_out(
    platform: LocalDeployment, escape: str
) -> None:
    execution_id = detach(platform, "--timeout", "1", "--", f"{ESCAPES[escape]} sleep 60")
    wait_for(lambda: len(marked(execution_id)) >= 2)

    execution = platform.wait_status(execution_id, TERMINAL, timeout=5)

    assert execution["status"] == "TIMED_OUT"
    assert marked(execution_id) == []


@pytest.mark.embedded_only(ESCAPED)
@pytest.mark.parametrize("escape", sorted(ESCAPES))
def test_an_escaped_child_that_ignores_sigterm_ends_on_cancel(
    platform: LocalDeployment, escape: str
) -> None:
    execution_id = detach(platform, "--", f"trap '' TERM; {ESCAPES[escape]} sleep 60")
    wait_for(lambda: len(marked(execution_id)) >= 3)

    started = time.monotonic()
    platform.mycli("cancel", execution_id, check=True)
    execution = platform.wait_status(execution_id, TERMINAL, timeout=5)

    assert execution["status"] == "CANCELLED"
    assert time.monotonic() - started < 4  # the kill grace is 1 s
    assert marked(execution_id) == []
