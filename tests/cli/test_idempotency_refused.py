"""`mycli exec` and a reused Idempotency-Key, against the real API: its own retries of the
same body return the first run; a key that already stands for another request (a key
collision, simulated by fixing the key) is said in words and exits 2, starting nothing."""

from __future__ import annotations

import pytest

from cli_harness import CliHarness
from mycli import exitcodes
from mycli.commands import exec_run

FIXED = "00000000000040008000000000000017"


def listed(harness: CliHarness) -> list[str]:
    admin = harness.platform.services.users.authenticate(harness.admin_key)
    page = harness.platform.services.executions.list_page(admin, limit=10)
    return [execution.command for execution in page.items]


def test_the_same_key_for_another_command_is_2_in_words(
    harness: CliHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exec_run, "idempotency_key", lambda: FIXED)
    first = harness.run("exec", "-d", "--", "echo first")

    second = harness.run("exec", "--", "echo second")

    assert first.exit_code == 0, first.stderr
    assert second.exit_code == exitcodes.USAGE
    assert "the server refused to start the command" in second.stderr
    assert "already used for a different request" in second.stderr
    assert first.stdout.strip() in second.stderr, "names the run the key stands for"
    assert listed(harness) == ["echo first"]


def test_the_same_key_for_the_same_command_returns_the_first_run(
    harness: CliHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exec_run, "idempotency_key", lambda: FIXED)
    first = harness.run("exec", "-d", "--lock", "db", "-e", "A=1", "--", "echo same")

    again = harness.run("exec", "-d", "--lock", "db", "-e", "A=1", "--", "echo same")

    assert (again.exit_code, again.stdout) == (0, first.stdout), again.stderr
    assert listed(harness) == ["echo same"]
