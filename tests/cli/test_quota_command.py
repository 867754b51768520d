"""`mycli quota`, and what a quota refusal (429 too_many_executions) becomes: exit 5 at once,
for every command and for `mycli exec`, while other 429s stay retried throttling."""

from __future__ import annotations

import json

from cli_harness import CliHarness
from mycli import exitcodes
from mycli.client import _worth_retrying
from mycli.errors import ApiError, exec_exit_code
from mycli.transport import Response


def test_quota_shows_the_limits_and_the_running_counts(harness: CliHarness) -> None:
    mine = harness.run("quota")
    everyone = harness.run("quota", "-o", "json", key=harness.admin_key)

    assert mine.exit_code == 0, mine.output
    assert mine.output == "running: 0 of 10 per user\nplatform limit: 50 in total\n"
    assert json.loads(everyone.output) == {
        "max_running_per_user": 10,
        "max_running_total": 50,
        "running": 0,
        "total_running": 0,
    }


def test_a_quota_refusal_is_exit_5_for_exec_too() -> None:
    refusal = ApiError(429, "too_many_executions", "too many executions: ...", {})

    assert refusal.exit_code == exitcodes.CONFLICT == 5
    assert exec_exit_code(refusal) == 5
    assert ApiError(429, "throttled", "slow down", {}).exit_code == exitcodes.FAILURE


def test_a_quota_refusal_is_not_retried_but_throttling_is() -> None:
    refusal = Response(429, {}, b'{"error": {"code": "too_many_executions"}}')
    throttled = Response(429, {}, b'{"error": {"code": "throttled"}}')

    assert not _worth_retrying(refusal)
    assert _worth_retrying(throttled)
    assert _worth_retrying(Response(503, {}, b""))
