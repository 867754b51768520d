"""`mycli exec` ends with what the completing logs page says (status, exit_code, reason),
without reading the execution again; against a server whose pages lack those fields (an
older one) it reads the execution as before. Both with the same last line and exit code.
The real local server answers, through a proxy on 127.0.0.1 that records every request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import pytest

from cli_harness import CliHarness
from flaky_proxy import FlakyProxy, failing, flaky_proxy
from mycli import exitcodes

NEW_FIELDS = ("exit_code", "reason")


def as_an_older_server(content_type: str, body: bytes) -> bytes:
    """The logs page without exit_code and reason, binary or JSON."""
    if content_type.startswith("application/octet-stream"):
        line, _, data = body.partition(b"\n")
        head = json.loads(line)
        for name in NEW_FIELDS:
            del head[name]
        return json.dumps(head).encode() + b"\n" + data
    page = json.loads(body)
    for name in NEW_FIELDS:
        del page[name]
    return json.dumps(page).encode()


@pytest.fixture
def proxy(harness: CliHarness) -> Iterator[FlakyProxy]:
    with flaky_proxy(harness.url) as running:
        yield running


@pytest.fixture
def through(harness: CliHarness, proxy: FlakyProxy) -> CliHarness:
    return replace(harness, url=proxy.url)


def last_line(stderr: str) -> str:
    return stderr.rstrip("\n").rsplit("\n", 1)[-1]


def recorded(harness: CliHarness, stderr: str) -> dict[str, object]:
    """The execution the run's `started` line names, as the server has it."""
    execution_id = stderr.split("mycli: execution ", 1)[1].split(" ", 1)[0]
    admin = harness.platform.services.users.authenticate(harness.admin_key)
    return harness.platform.services.executions.get(admin, execution_id).to_dict()


def test_exec_ends_with_the_completing_page_and_reads_the_execution_no_more(
    through: CliHarness, proxy: FlakyProxy
) -> None:
    # When a command that fails with its own code runs
    result = through.run("exec", "--", "printf 'out\\377'; exit 3")

    # Then its bytes, its code and the usual last line, from the logs alone
    record = recorded(through, result.stderr)
    assert result.exit_code == 3, result.stderr
    assert result.stdout_bytes == b"out\xff"
    assert last_line(result.stderr) == (
        f"mycli: execution {record['execution_id']} FAILED: {record['reason']}"
    )
    assert len(proxy.requests("create")) + len(proxy.requests("logs")) == len(proxy.seen)


def test_a_timed_out_exec_says_so_from_the_completing_page(
    through: CliHarness, proxy: FlakyProxy
) -> None:
    result = through.run("exec", "--timeout", "1", "--", "sleep 10")

    record = recorded(through, result.stderr)
    assert result.exit_code == exitcodes.EXEC_TIMED_OUT, result.stderr
    assert record["status"] == "TIMED_OUT" and record["reason"]
    assert last_line(result.stderr) == (
        f"mycli: execution {record['execution_id']} TIMED_OUT: {record['reason']}"
    )
    assert proxy.requests("status") == []


def test_against_an_older_server_exec_reads_the_execution_through_its_retries(
    through: CliHarness, proxy: FlakyProxy
) -> None:
    # Given a server whose logs pages lack exit_code and reason, and a status read that
    # fails once
    proxy.rewrite = {"logs": as_an_older_server}
    proxy.faults = {"status": [failing(503)]}

    # When a command that fails with its own code runs
    result = through.run("exec", "--", "printf 'out\\377'; exit 3")

    # Then the end comes from reading the execution (retried), with the same line and code
    record = recorded(through, result.stderr)
    assert result.exit_code == 3, result.stderr
    assert result.stdout_bytes == b"out\xff"
    assert last_line(result.stderr) == (
        f"mycli: execution {record['execution_id']} FAILED: {record['reason']}"
    )
    assert [seen.faulted for seen in proxy.requests("status")] == [True, False]


def test_against_an_older_server_a_success_exits_0_with_the_status_alone(
    through: CliHarness, proxy: FlakyProxy
) -> None:
    proxy.rewrite = {"logs": as_an_older_server}

    result = through.run("exec", "--", "true")

    record = recorded(through, result.stderr)
    assert result.exit_code == 0, result.stderr
    assert last_line(result.stderr) == f"mycli: execution {record['execution_id']} SUCCEEDED"
    assert len(proxy.requests("status")) == 1
