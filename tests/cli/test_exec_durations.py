"""`mycli exec --timeout` and `--wait-lock` take durations (`90s`, `5m`, `1h30m`) as well as
seconds; a bad one is exit 2 in words (CliRunner against a real local server)."""

from __future__ import annotations

import pytest

from cli_harness import CliHarness
from mycli import exitcodes


def recorded(harness: CliHarness) -> list[str]:
    admin = harness.platform.services.users.authenticate(harness.admin_key)
    items = harness.platform.services.executions.list_page(admin, limit=10).items
    return [execution.command for execution in items]


def test_timeout_takes_a_duration_and_2s_times_out_like_2(harness: CliHarness) -> None:
    result = harness.run("exec", "--timeout", "2s", "--", "sleep 10")

    assert result.exit_code == exitcodes.EXEC_TIMED_OUT
    assert "TIMED_OUT" in result.stderr
    admin = harness.platform.services.users.authenticate(harness.admin_key)
    [execution] = harness.platform.services.executions.list_page(admin, limit=10).items
    assert execution.timeout_seconds == 2


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--timeout", "5x"), "'5x' is not a duration: give seconds (90) or a number with units"),
        (("--timeout", "1.5s"), "'1.5s' is not a whole number of seconds"),
        (("--timeout", "25h"), "'25h' is 90000 seconds, outside 1 to 86400 seconds"),
        (("--lock", "a", "--wait-lock", "1d"), "'1d' is not a duration"),
    ],
)
def test_a_bad_duration_is_2_in_words_and_nothing_runs(
    harness: CliHarness, args: tuple[str, ...], words: str
) -> None:
    result = harness.run("exec", *args, "--", "true")

    assert result.exit_code == exitcodes.USAGE
    assert words in " ".join(result.stderr.split())
    assert recorded(harness) == []


def test_wait_lock_takes_a_duration(harness: CliHarness) -> None:
    harness.run("exec", "-d", "--lock", "db", "--", "sleep 3")

    result = harness.run("exec", "--lock", "db", "--wait-lock", "1m", "--", "echo got it")

    assert (result.exit_code, result.stdout) == (0, "got it\n"), result.stderr
    assert "mycli: queued for 'db'" in result.stderr
    assert sorted(recorded(harness)) == ["echo got it", "sleep 3"]
