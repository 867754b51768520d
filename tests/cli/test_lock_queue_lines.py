"""What `mycli exec --wait-lock` shows while its run is QUEUED, and how `mycli locks list`
and `mycli locks history` lay out the API's answers: pure functions of the answers and the
time now."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime, timedelta

import pytest

from mycli.commands.common import for_fields
from mycli.commands.exec_command import queued_note
from mycli.commands.exec_request import request_body
from mycli.lock_tables import history_rows, locks_lines
from mycli.lock_wait import (
    ERASE_LINE,
    StatusLine,
    line_state,
    ordinal,
    position_line,
    short_duration,
    time_left,
)

NOW = datetime(2026, 12, 6, 12, 0, 0, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def run_holder(**fields: object) -> dict[str, object]:
    return {
        "kind": "run",
        "lock_name": "infra-prod",
        "execution_id": "3f2a9c0d1e2b4a5f",
        "user_email": "alice@example.com",
        "since": iso(NOW - timedelta(minutes=4, seconds=10)),
        "until": iso(NOW + timedelta(minutes=26)),
        "status": "RUNNING",
        **fields,
    }


def hold_holder(**fields: object) -> dict[str, object]:
    return {
        "kind": "hold",
        "lock_name": "infra-prod",
        "execution_id": "hold-0123456789abcdef",
        "user_email": "bob@example.com",
        "since": iso(NOW - timedelta(minutes=25)),
        "until": iso(NOW + timedelta(minutes=35)),
        "reason": "incident 42",
        **fields,
    }


@pytest.mark.parametrize(
    ("number", "text"),
    [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (12, "12th"),
     (13, "13th"), (21, "21st"), (22, "22nd"), (100, "100th"), (101, "101st")],
)  # fmt: skip
def test_positions_read_as_ordinals(number: int, text: str) -> None:
    assert ordinal(number) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(-3, "0s"), (0, "0s"), (45.9, "45s"), (60, "1m"), (250, "4m"), (3600, "1h"),
     (3900, "1h5m"), (86400, "1d"), (97200, "1d3h")],
)  # fmt: skip
def test_times_in_the_position_line_are_compact(seconds: float, text: str) -> None:
    assert short_duration(seconds) == text


def test_given_a_run_holds_the_lock_the_line_names_its_user_run_status_and_age() -> None:
    queue = {"lock_name": "infra-prod", "position": 2, "holder": run_holder()}

    assert position_line(queue, NOW) == (
        "mycli: queued for 'infra-prod': 2nd in line, behind alice@example.com's run "
        "3f2a9c0d… (RUNNING for 4m)"
    )


def test_given_a_hold_the_line_gives_its_reason_and_when_it_ends() -> None:
    queue = {"lock_name": "infra-prod", "position": 1, "holder": hold_holder()}

    assert position_line(queue, NOW) == (
        "mycli: queued for 'infra-prod': 1st in line, behind a hold by bob@example.com: "
        '"incident 42" (ends in 35m)'
    )


def test_given_the_lock_is_free_between_holders_the_line_says_it_starts_soon() -> None:
    queue = {"lock_name": "infra-prod", "position": 1, "holder": None}

    assert position_line(queue, NOW) == (
        "mycli: queued for 'infra-prod': 1st in line, the lock is free: starting soon"
    )


def test_a_reason_cannot_steer_the_terminal_or_break_the_line() -> None:
    holder = hold_holder(reason="\x1b[2Jwiped\nsecond line " + "x" * 200)

    line = position_line({"lock_name": "l", "position": 1, "holder": holder}, NOW)

    assert "\x1b" not in line and "\n" not in line
    assert " [2Jwiped second line xxx" in line
    assert len(line) < 160


@pytest.mark.parametrize(
    ("left", "text"),
    [(timedelta(minutes=34, seconds=59), "35m"), (timedelta(hours=2), "2h"),
     (timedelta(seconds=42.5), "42s"), (timedelta(seconds=0.5), None),
     (timedelta(minutes=-1), None)],
)  # fmt: skip
def test_time_left_rounds_up_to_the_minute(left: timedelta, text: str | None) -> None:
    assert time_left(iso(NOW + left), NOW) == text
    assert time_left("not a time", NOW) is None


def test_the_state_changes_with_the_position_and_holder_not_with_the_clock() -> None:
    first = {"lock_name": "l", "position": 2, "holder": run_holder()}
    later = {"lock_name": "l", "position": 2, "holder": run_holder(since=iso(NOW))}
    moved = {"lock_name": "l", "position": 1, "holder": run_holder()}

    assert line_state(first) == line_state(later)
    assert line_state(first) != line_state(moved)
    assert line_state(first) != line_state({**first, "holder": run_holder(status="CANCELLING")})


def test_off_a_terminal_a_new_line_is_printed_only_when_the_state_changes() -> None:
    stream = io.StringIO()
    line = StatusLine(stream)

    line.show("second, 4m", (2, "a"))
    line.show("second, 5m", (2, "a"))
    line.show("first", (1, "a"))
    line.end()

    assert stream.getvalue() == "second, 4m\nfirst\n"


def read_all(controller: int) -> str:
    """What the terminal's other end wrote, up to its close (EIO on Linux)."""
    data = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data.decode()


def test_on_a_terminal_the_line_is_rewritten_in_place_and_ended_once() -> None:
    controller, terminal = os.openpty()
    try:
        with open(terminal, "w") as stream:
            line = StatusLine(stream)
            line.show("second, 4m", (2,))
            line.show("second, 4m", (2,))  # the same text: nothing written
            line.show("second, 5m", (2,))
            line.end()
            line.end()
        written = read_all(controller)
    finally:
        os.close(controller)

    erase = ERASE_LINE
    # A terminal turns "\n" into "\r\n" on output.
    assert written == f"{erase}second, 4m{erase}second, 5m\r\n"


@pytest.mark.parametrize(
    ("wait_lock", "sent"), [(None, None), (0, None), (0.2, 1), (90, 90), (90.5, 91)]
)
def test_wait_lock_is_sent_as_whole_seconds_rounded_up(
    wait_lock: float | None, sent: int | None
) -> None:
    body = request_body(("true",), "infra-prod", (), None, wait_lock)

    assert body.get("wait_lock_seconds") == sent


def test_locks_list_shows_a_block_per_lock_with_its_queue() -> None:
    listing = [
        {
            "name": "infra-prod",
            "holder": run_holder(),
            "queue": [
                {
                    "position": 1,
                    "execution_id": "exec-b",
                    "user_email": "bob@example.com",
                    "queued_at": iso(NOW - timedelta(minutes=3, seconds=5)),
                    "wait_until": iso(NOW + timedelta(minutes=7)),
                },
                {
                    "position": 2,
                    "execution_id": "exec-c",
                    "user_email": "carol@example.com",
                    "queued_at": iso(NOW - timedelta(seconds=12)),
                    "wait_until": iso(NOW + timedelta(hours=2)),
                },
            ],
        },
        {"name": "staging", "holder": hold_holder(lock_name="staging"), "queue": []},
    ]

    assert locks_lines(listing, NOW) == [
        "infra-prod: run 3f2a9c0d1e2b4a5f by alice@example.com (RUNNING), since 4 min ago, "
        "until in 26 min",
        "  POSITION  EXECUTION  USER               WAITED     GIVES UP",
        "  1         exec-b     bob@example.com    3 min 5 s  in 7 min",
        "  2         exec-c     carol@example.com  12 s       in 2 h",
        "",
        'staging: hold by bob@example.com: "incident 42", since 25 min ago, until in 35 min',
        "  nobody waiting",
    ]


def test_a_lock_listed_for_its_queue_alone_says_it_is_free() -> None:
    listing = [{"name": "l", "holder": None, "queue": []}]

    assert locks_lines(listing, NOW)[0] == "l: free (the next in line starts soon)"
    assert locks_lines([], NOW) == []


def test_history_rows_say_when_who_and_whose_hold() -> None:
    items = [
        {
            "lock_name": "infra-prod",
            "action": "release",
            "user_email": "admin@example.com",
            "at": iso(NOW - timedelta(minutes=2)),
            "reason": "incident 42",
            "holder_id": "hold-0123456789abcdef",
            "holder_email": "bob@example.com",
        },
        {
            "lock_name": "infra-prod",
            "action": "hold",
            "user_email": "bob@example.com",
            "at": iso(NOW - timedelta(hours=1)),
            "reason": None,
            "holder_id": None,
            "holder_email": None,
        },
    ]

    rows = history_rows(items, NOW)

    assert [(row["at_ago"], row["action"], row["holder"]) for row in rows] == [
        ("2 min ago", "release", "bob@example.com (hold-0123456789abcdef)"),
        ("1 h ago", "hold", None),
    ]


def test_status_of_a_queued_run_gives_its_place_and_whom_it_waits_for() -> None:
    queued = {
        "execution_id": "exec-b",
        "status": "QUEUED",
        "queue": {
            "lock_name": "infra-prod",
            "position": 3,
            "holder": hold_holder(until=iso(datetime.now(UTC) + timedelta(minutes=35))),
        },
    }

    fields = for_fields(queued)

    assert fields["queue_position"] == "3rd"
    assert fields["queue_holder"].startswith(
        'a hold by bob@example.com: "incident 42" (ends in 35m)'
    )
    assert "queue_position" not in for_fields({"execution_id": "x", "status": "RUNNING"})


def test_detach_while_queued_says_where_the_run_stands() -> None:
    queued = {"execution_id": "x", "status": "QUEUED", "queue": {"lock_name": "db", "position": 2}}

    assert (
        queued_note(queued) == "mycli: queued for 'db', 2nd in line: it starts when its turn comes"
    )
