"""`mycli exec` and `mycli logs -f` through a throttled or failing API (a proxy on 127.0.0.1
in front of the real local server, answering 429 and 5xx now and then): they keep following
for a bounded time, honouring Retry-After, the output stays byte for byte, a throttled
create is retried with its Idempotency-Key and starts one run, a quota refusal is not
retried, and polls keep their minimum interval while output flows."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from cli_harness import CliHarness
from flaky_proxy import FlakyProxy, failing, flaky_proxy, throttled
from mycli import exitcodes, follow
from mycli.client import BUSY_NOTICE, RETRY_NOTICE

# Bytes a terminal-minded follower could mangle: \r, ANSI colour, a non-UTF-8 byte, no
# final newline before the pause, stderr between.
COMMAND = (
    r"printf 'a\r\033[31mred\033[0m\377\npart'; printf err >&2; sleep 0.3; "
    r"printf 'more\n'; exit 3"
)
STDOUT = b"a\r\x1b[31mred\x1b[0m\xff\npartmore\n"


@pytest.fixture
def proxy(harness: CliHarness) -> Iterator[FlakyProxy]:
    with flaky_proxy(harness.url) as running:
        yield running


@pytest.fixture
def through(harness: CliHarness, proxy: FlakyProxy) -> CliHarness:
    """The CLI talking to the server through the proxy."""
    return replace(harness, url=proxy.url)


def executions(harness: CliHarness) -> list[str]:
    admin = harness.platform.services.users.authenticate(harness.admin_key)
    page = harness.platform.services.executions.list_page(admin, limit=10)
    return [execution.execution_id for execution in page.items]


def test_exec_follows_through_429_and_5xx_and_the_output_is_byte_exact(
    through: CliHarness, proxy: FlakyProxy
) -> None:
    # Given an API that throttles the create, then fails and throttles the log polls now and
    # then (the final status read, which an older server needs: test_exec_last_page.py)
    proxy.faults = {
        "create": [throttled("0"), failing(502)],
        "logs": [failing(500), throttled("1"), "drop"],
    }
    started = time.monotonic()

    # When a command runs
    result = through.run("exec", "--", COMMAND)

    # Then the run is followed to its end: its bytes, its exit code, one notice per outage
    assert result.exit_code == 3, result.stderr
    assert result.stdout_bytes == STDOUT
    assert "err" in result.stderr
    assert BUSY_NOTICE in result.stderr and RETRY_NOTICE in result.stderr
    assert "lost the connection" not in result.stderr
    assert time.monotonic() - started >= 1.0, "Retry-After: 1 was honoured"
    # ...and the throttled create was retried with its key, starting one run
    creates = proxy.requests("create")
    assert len(creates) == 3
    assert len({seen.headers["Idempotency-Key"] for seen in creates}) == 1
    assert len(executions(through)) == 1
    assert sum(seen.faulted for seen in proxy.requests("logs")) == 3, "every fault was met"


def test_logs_f_follows_through_500s(harness: CliHarness, proxy: FlakyProxy) -> None:
    # Given a running command, started directly
    started = harness.run("exec", "-d", "--", COMMAND)
    execution_id = started.stdout.strip()
    proxy.faults = {"logs": [failing(500), failing(500), failing(503), throttled("0")]}

    # When it is followed through the failing API
    result = replace(harness, url=proxy.url).run("logs", "-f", execution_id)

    # Then every byte arrives, once
    assert result.exit_code == 0, result.stderr
    assert result.stdout_bytes == STDOUT
    assert len(proxy.requests("logs")) >= 5


@pytest.mark.parametrize("fault", [throttled("0"), failing(500)], ids=["429", "500"])
def test_when_the_bound_runs_out_exec_exits_125_lost_the_connection(
    through: CliHarness, proxy: FlakyProxy, fault: tuple[int, dict[str, str], str]
) -> None:
    # Given an API that answers every log poll with `fault`
    proxy.always = {"logs": fault}

    # When a command is run with a 1 s retry budget
    result = through.run("exec", "--", "sleep 1", env={"MYCLI_RETRY_SECONDS": "1"})

    # Then mycli retried for that long, and says the connection was lost, with the way back
    assert result.exit_code == exitcodes.EXEC_COULD_NOT_RUN, result.stderr
    assert "lost the connection while following execution" in result.stderr
    assert "mycli logs -f" in result.stderr
    assert len(proxy.requests("logs")) >= 2


def test_a_quota_refusal_is_not_retried_and_exits_5(through: CliHarness, proxy: FlakyProxy) -> None:
    proxy.faults = {"create": [(429, {}, "too_many_executions")]}

    result = through.run("exec", "--", "true")

    assert result.exit_code == exitcodes.CONFLICT, result.stderr
    assert len(proxy.requests("create")) == 1
    assert executions(through) == []


def test_polls_keep_the_minimum_interval_while_output_flows(
    through: CliHarness, proxy: FlakyProxy
) -> None:
    # Given a command printing a line every 20 ms for about 2 s (the long-poll would return
    # at every line)
    lines = 80
    command = f"for i in $(seq {lines}); do echo $i; sleep 0.02; done"

    # When it is followed
    result = through.run("exec", "--", command)

    # Then every byte arrives, and the polls were paced: the burst, then one per 0.25 s
    assert result.exit_code == 0, result.stderr
    assert result.stdout_bytes == b"".join(b"%d\n" % n for n in range(1, lines + 1))
    polls = proxy.requests("logs")
    window = polls[-1].at - polls[0].at
    allowed = follow.POLL_BURST + window / follow.MIN_POLL_INTERVAL_SECONDS + 1
    assert window >= 1.0, "the run took its time"
    assert len(polls) <= allowed, (len(polls), window)
