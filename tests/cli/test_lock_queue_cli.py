"""The lock queue and holds through the real CLI against a real local server (CliRunner, so
stderr is not a terminal: a position line is printed once per change): `exec --wait-lock`
while QUEUED (position line, expiry, --detach), `locks hold | release | list | history`."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from cli_harness import CliHarness
from mycli import exitcodes


def execution(harness: CliHarness, execution_id: str) -> dict[str, Any]:
    result = harness.run("status", execution_id, "-o", "json", key=harness.admin_key)
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def wait_for(harness: CliHarness, execution_id: str, wanted: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while (found := execution(harness, execution_id))["status"] not in wanted:
        assert time.monotonic() < deadline, found
        time.sleep(0.2)
    return found


def detached(harness: CliHarness, *args: str, key: str | None = None) -> str:
    result = harness.run("exec", "--detach", *args, key=key)
    assert result.exit_code == 0, result.stderr
    return result.stdout.strip()


def test_a_queued_run_shows_its_place_and_the_holder_then_runs(harness: CliHarness) -> None:
    holder = detached(harness, "--lock", "db", "--", "sleep 4")

    result = harness.run("exec", "--lock", "db", "--wait-lock", "30s", "--", "echo got it")

    assert (result.exit_code, result.stdout) == (0, "got it\n"), result.stderr
    # One line, and one more each time the place or the holder changes (its status may go
    # from STARTING to RUNNING while this run waits)
    queued_line, *changes = [line for line in result.stderr.splitlines() if "queued for" in line]
    assert len(changes) <= 1, result.stderr
    assert queued_line.startswith(
        f"mycli: queued for 'db': 1st in line, behind user@example.com's run {holder[:8]}…"
    )
    assert execution(harness, holder)["status"] == "SUCCEEDED"


def test_the_create_asks_the_server_to_wait_in_whole_seconds(harness: CliHarness) -> None:
    holder = detached(harness, "--lock", "db", "--", "sleep 30")
    try:
        waiter = detached(harness, "--lock", "db", "--wait-lock", "1m30s", "--", "true")
        queued = execution(harness, waiter)
    finally:
        harness.run("cancel", holder)

    assert queued["status"] == "QUEUED"
    assert queued["lock_wait_until"] is not None
    assert queued["queue"]["position"] == 1
    assert queued["queue"]["holder"]["execution_id"] == holder


def test_detach_while_queued_says_it_starts_when_its_turn_comes(harness: CliHarness) -> None:
    holder = detached(harness, "--lock", "db", "--", "sleep 3")

    result = harness.run("exec", "-d", "--lock", "db", "--wait-lock", "1m", "--", "echo later")

    assert result.exit_code == 0, result.stderr
    waiter = result.stdout.strip()
    assert "mycli: queued for 'db', 1st in line: it starts when its turn comes" in result.stderr
    assert f"mycli logs -f {waiter}" in result.stderr
    assert wait_for(harness, waiter, {"SUCCEEDED", "FAILED"})["status"] == "SUCCEEDED"
    assert execution(harness, holder)["status"] == "SUCCEEDED"


def test_a_wait_that_expires_exits_125_with_the_reason(harness: CliHarness) -> None:
    holder = detached(harness, "--lock", "db", "--", "sleep 30")
    try:
        result = harness.run("exec", "--lock", "db", "--wait-lock", "2s", "--", "echo never")
    finally:
        harness.run("cancel", holder)

    assert result.exit_code == exitcodes.EXEC_COULD_NOT_RUN, result.stderr
    assert result.stdout == ""
    assert "lock wait expired after" in result.stderr
    assert "mycli: error: execution " in result.stderr


def test_a_hold_refuses_runs_with_its_holder_reason_and_time_left(harness: CliHarness) -> None:
    held = harness.run("locks", "hold", "prod", "--reason", "incident 42", "--for", "10m")

    refused = harness.run("exec", "--lock", "prod", "--", "true", key=harness.admin_key)

    assert held.exit_code == 0, held.stderr
    assert held.stdout.startswith("holding lock 'prod' for 10m (until ")
    assert held.stdout.endswith('Z): "incident 42"\n')
    assert "mycli locks release prod" in held.stderr
    assert refused.exit_code == exitcodes.EXEC_COULD_NOT_RUN
    assert "user@example.com" in refused.stderr and "incident 42" in refused.stderr
    assert harness.run("locks", "release", "prod").exit_code == 0


def test_a_run_queues_behind_a_hold_and_starts_when_it_is_released(harness: CliHarness) -> None:
    harness.run("locks", "hold", "prod", "--reason", "freeze")
    waiter = detached(harness, "--lock", "prod", "--wait-lock", "1m", "--", "echo thawed")

    listed = json.loads(harness.run("locks", "list", "-o", "json").stdout)
    table = harness.run("locks", "list").stdout
    released = harness.run("locks", "release", "prod")

    [lock] = listed["locks"]
    assert (lock["name"], lock["holder"]["kind"], lock["holder"]["reason"]) == (
        "prod",
        "hold",
        "freeze",
    )
    assert [(entry["position"], entry["execution_id"]) for entry in lock["queue"]] == [(1, waiter)]
    assert table.startswith('prod: hold by user@example.com: "freeze", since ')
    assert f"1         {waiter}" in table
    assert released.stdout.startswith("released the hold on 'prod' (held by user@example.com")
    assert wait_for(harness, waiter, {"SUCCEEDED", "FAILED"})["status"] == "SUCCEEDED"


def test_only_its_holder_or_an_admin_releases_a_hold(harness: CliHarness) -> None:
    harness.run("locks", "hold", "prod", "--reason", "mine", key=harness.admin_key)

    by_user = harness.run("locks", "release", "prod")
    by_admin = harness.run("locks", "release", "prod", key=harness.admin_key)

    assert by_user.exit_code == exitcodes.AUTH
    assert by_user.stderr.count("\n") == 1
    assert by_admin.exit_code == 0


def test_holding_a_held_lock_is_refused_naming_the_holder(harness: CliHarness) -> None:
    holder = detached(harness, "--lock", "prod", "--", "sleep 30")
    try:
        result = harness.run("locks", "hold", "prod", "--reason", "too late")
    finally:
        harness.run("cancel", holder)

    assert result.exit_code == exitcodes.CONFLICT
    assert holder in result.stderr


def test_history_lists_holds_and_releases_newest_first(harness: CliHarness) -> None:
    harness.run("locks", "hold", "prod", "--reason", "incident 42")
    harness.run("locks", "release", "prod", key=harness.admin_key)

    page = json.loads(harness.run("locks", "history", "prod", "-o", "json").stdout)
    table = harness.run("locks", "history").stdout.splitlines()

    assert [(item["action"], item["user_email"]) for item in page["items"]] == [
        ("release", "admin@example.com"),
        ("hold", "user@example.com"),
    ]
    assert table[0].split() == ["AT", "LOCK", "ACTION", "BY", "HOLDER", "REASON"]
    assert "release" in table[1] and "incident 42" in table[2]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--reason", "x", "--for", "25h"), "outside 1 to 86400 seconds"),
        (("--reason", "x", "--for", "soon"), "is not a duration"),
        (("--reason", "   "), "give a reason others can read"),
        ((), "Missing option '--reason'"),
    ],
)
def test_a_bad_hold_is_refused_in_words_before_it_is_taken(
    harness: CliHarness, args: tuple[str, ...], words: str
) -> None:
    result = harness.run("locks", "hold", "prod", *args)

    assert result.exit_code == exitcodes.USAGE
    assert words in result.stderr
    assert harness.run("locks", "list").stdout == ""
