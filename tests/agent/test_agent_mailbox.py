"""A warm task's agent (docs/warm-runners.md): started with only its mailbox, it waits for
one assignment, then runs it as a cold agent would; with no assignment (403/404, expiry,
a stop, a mailbox it cannot read) it exits 6 and the command container never runs."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from agent_world import WAIT_SECONDS, AgentWorld

from moto_aws import CODE_BUCKET
from orchestrator.agent.layout import (
    AGENT_EXIT_CRASHED,
    AGENT_EXIT_NO_ASSIGNMENT,
    AGENT_EXIT_NO_MANIFEST,
    EXECUTION_ID_VARIABLE,
    MAILBOX_UNTIL_VARIABLE,
    MAILBOX_URL_VARIABLE,
    MANIFEST_URL_VARIABLE,
)
from orchestrator.agent.mailbox import Mailbox, NoAssignment, parse_mailbox, wait_for_assignment
from orchestrator.agent.run import AgentConfig, main

WAITING = json.dumps({"v": 1, "state": "waiting"}).encode()


def _until(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def _assignment(execution_id: str, manifest_url: str) -> bytes:
    return json.dumps({"v": 1, "execution_id": execution_id, "manifest_url": manifest_url}).encode()


def _finish(
    agent: subprocess.Popen[str], entry: subprocess.Popen[bytes]
) -> tuple[int, str, int | None]:
    """Both processes' ends: the agent's code and log, the entry's code."""
    try:
        _, log = agent.communicate(timeout=WAIT_SECONDS)
        entry_code: int | None = entry.wait(timeout=WAIT_SECONDS)
    finally:
        for process in (agent, entry):
            if process.poll() is None:
                process.kill()
                process.wait()
        if entry.stdout is not None and entry.stderr is not None:
            entry.stdout.close()
            entry.stderr.close()
    return agent.returncode, log, entry_code


def test_a_waiting_agent_runs_its_assignment_as_a_cold_agent_would(agents: AgentWorld) -> None:
    # Given a warm task waiting on its mailbox
    mailbox = "warm/0123abcd/assignment"
    agent, entry = agents.start_waiting("warm-1", agents.put(mailbox, WAITING), _until(300))
    time.sleep(0.6)
    assert agent.poll() is None and entry.poll() is None

    # When a run is assigned to it (its manifest stored, the mailbox overwritten)
    manifest = agents.manifest("echo hello from $((40 + 2)); echo err >&2; exit 3")
    manifest_url = agents.put(f"runs/{manifest.execution_id}/manifest.json", manifest.to_json())
    assigned_at = time.monotonic()
    agents.s3.put_object(
        Bucket=CODE_BUCKET, Key=mailbox, Body=_assignment(manifest.execution_id, manifest_url)
    )
    code, log, entry_code = _finish(agent, entry)

    # Then it ran the command once, stored its output and result, and exited 0
    ran = agents.read(manifest, code, log, entry_code)
    assert (ran.agent_code, ran.entry_code) == (0, 3), log
    assert (ran.stdout, ran.stderr) == (b"hello from 42\n", b"err\n")
    assert ran.result is not None and ran.result.exit_code == 3
    assert ran.complete
    assert f"assigned run {manifest.execution_id}" in log
    assert time.monotonic() - assigned_at < 10


def test_an_assignment_whose_manifest_is_for_another_run_is_refused(agents: AgentWorld) -> None:
    # Given a waiting agent, and a manifest of one run
    mailbox = "warm/0123abce/assignment"
    agent, entry = agents.start_waiting("warm-2", agents.put(mailbox, WAITING), _until(300))
    manifest = agents.manifest("echo never")
    manifest_url = agents.put(f"runs/{manifest.execution_id}/manifest.json", manifest.to_json())

    # When the assignment names another execution id with that manifest's URL
    agents.s3.put_object(
        Bucket=CODE_BUCKET, Key=mailbox, Body=_assignment("someone-else", manifest_url)
    )
    code, log, entry_code = _finish(agent, entry)

    # Then the agent exits as with no manifest, and the command never ran
    assert code == AGENT_EXIT_NO_MANIFEST, log
    assert entry_code != 0
    assert "for another run than someone-else" in log


@pytest.mark.parametrize(
    ("case", "until"),
    [("removed", 300), ("expired", 1.5), ("not json", 300), ("stopped", 300)],
)
def test_a_waiting_agent_with_no_assignment_exits_6_and_the_command_never_runs(
    agents: AgentWorld, case: str, until: float
) -> None:
    # Given a warm task waiting on its mailbox
    mailbox = f"warm/{case.replace(' ', '-')}/assignment"
    agent, entry = agents.start_waiting(
        case.replace(" ", "-"), agents.put(mailbox, WAITING), _until(until)
    )
    time.sleep(0.5)
    began = time.monotonic()

    # When its mailbox goes (404), its URL expires, it holds garbage, or the task is stopped
    if case == "removed":
        agents.s3.delete_object(Bucket=CODE_BUCKET, Key=mailbox)
    elif case == "not json":
        agents.s3.put_object(Bucket=CODE_BUCKET, Key=mailbox, Body=b"<html>")
    elif case == "stopped":
        agent.send_signal(signal.SIGTERM)
    code, log, entry_code = _finish(agent, entry)

    # Then the agent exits 6 within a few polls, and the command container ends unrun
    assert code == AGENT_EXIT_NO_ASSIGNMENT, log
    assert entry_code != 0
    assert time.monotonic() - began < 3
    assert "no assignment" in log
    assert not agents.s3.list_objects_v2(Bucket=CODE_BUCKET, Prefix="runs/").get("Contents")


class _Scripted(BaseHTTPRequestHandler):
    """Answers GETs from the server's script, one status and body per request; the last
    answer repeats."""

    def do_GET(self) -> None:
        script: list[tuple[int, bytes]] = self.server.script  # type: ignore[attr-defined]
        self.server.requests += 1  # type: ignore[attr-defined]
        status, body = script.pop(0) if len(script) > 1 else script[0]
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def scripted() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    server.script = []  # type: ignore[attr-defined]
    server.requests = 0  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _mailbox(server: ThreadingHTTPServer, seconds: float = 60) -> Mailbox:
    host, port = server.server_address[:2]
    return Mailbox.parse(f"http://{host!s}:{port}/warm/x/assignment", _until(seconds))


def test_transient_failures_are_polled_through_until_the_assignment(
    scripted: ThreadingHTTPServer,
) -> None:
    # Given a mailbox answering 503, then waiting twice, then the assignment
    scripted.script[:] = [  # type: ignore[attr-defined]
        (503, b"busy"),
        (200, WAITING),
        (200, WAITING),
        (200, _assignment("e-1", "https://bucket.example/runs/e-1/manifest.json")),
    ]

    # When the agent waits, polling every 50 ms
    assignment = wait_for_assignment(_mailbox(scripted), threading.Event(), poll_seconds=0.05)

    # Then it has its run after the four polls
    assert (assignment.execution_id, assignment.manifest_url) == (
        "e-1",
        "https://bucket.example/runs/e-1/manifest.json",
    )
    assert scripted.requests == 4  # type: ignore[attr-defined]


def test_a_refused_mailbox_ends_the_wait_at_once(scripted: ThreadingHTTPServer) -> None:
    # Given a mailbox whose URL is refused (an expired signature)
    scripted.script[:] = [(200, WAITING), (403, b"AccessDenied")]  # type: ignore[attr-defined]

    # When the agent waits: then no assignment, after the second poll
    with pytest.raises(NoAssignment, match="HTTP 403"):
        wait_for_assignment(_mailbox(scripted), threading.Event(), poll_seconds=0.05)
    assert scripted.requests == 2  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"v": 2, "state": "waiting"}',
        b'{"v": 1}',
        b'{"v": 1, "execution_id": "e", "manifest_url": "file:///etc/passwd"}',
        b'{"v": 1, "execution_id": "", "manifest_url": "https://x"}',
        b"[1]",
    ],
)
def test_a_mailbox_neither_waiting_nor_an_assignment_is_no_assignment(raw: bytes) -> None:
    with pytest.raises(NoAssignment):
        parse_mailbox(raw)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({MAILBOX_URL_VARIABLE: "http://x"}, MAILBOX_UNTIL_VARIABLE),
        ({MAILBOX_URL_VARIABLE: "http://x", MAILBOX_UNTIL_VARIABLE: "tomorrow"}, "ISO 8601"),
        ({MAILBOX_URL_VARIABLE: "http://x", MAILBOX_UNTIL_VARIABLE: "2026-01-01T00:00:00"}, "zone"),
        (
            {
                MAILBOX_URL_VARIABLE: "http://x",
                MAILBOX_UNTIL_VARIABLE: "2026-01-01T00:00:00Z",
                MANIFEST_URL_VARIABLE: "http://y",
            },
            "without a manifest URL",
        ),
        (
            {
                MAILBOX_URL_VARIABLE: "http://x",
                MAILBOX_UNTIL_VARIABLE: "2026-01-01T00:00:00Z",
                EXECUTION_ID_VARIABLE: "e",
            },
            "without a manifest URL",
        ),
    ],
)
def test_a_mailbox_configuration_that_cannot_work_is_refused(
    overrides: dict[str, str], message: str
) -> None:
    # Then the agent refuses to start, with its "bad configuration" exit
    with pytest.raises(ValueError, match=message):
        AgentConfig.from_env(overrides)
    assert main(overrides) == AGENT_EXIT_CRASHED


def test_a_mailbox_expiry_is_read_in_utc() -> None:
    mailbox = Mailbox.parse("http://x", "2026-01-01T02:00:00+02:00")
    assert mailbox.until == datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
