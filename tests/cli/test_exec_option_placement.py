"""`mycli exec`'s own options after the command without `--` are refused before anything
runs (exit 2, both readings shown); with `--` they reach the command unchanged (CliRunner
against a real local server)."""

from __future__ import annotations

import pytest

from cli_harness import CliHarness
from mycli import exitcodes


def recorded(harness: CliHarness) -> list[str]:
    admin = harness.platform.services.users.authenticate(harness.admin_key)
    items = harness.platform.services.executions.list_page(admin, limit=10).items
    return [execution.command for execution in items]


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (("echo", "--lock", "x"), "`--lock x` comes after the command"),
        (("terraform", "apply", "--lock", "infra-prod"), "`--lock infra-prod` comes after"),
        (("echo", "--timeout=5m", "-d"), "`--timeout=5m` and `-d` come after the command"),
        (("echo", "-e", "TOKEN=x"), "`-e TOKEN=x` comes after"),
        (("echo", "--image", "py"), "`--image py` comes after"),
        (("echo", "--secret", "db"), "`--secret db` comes after"),
        (("echo", "--git", "https://example.com/r.git"), "`--git https://example.com/r.git`"),
        (("echo", "--detach"), "`--detach` comes after"),
        (("echo", "--wait-lock", "5"), "`--wait-lock 5` comes after"),
    ],
)
def test_an_exec_option_after_the_command_is_refused_and_nothing_runs(
    harness: CliHarness, args: tuple[str, ...], shown: str
) -> None:
    result = harness.run("exec", *args)

    assert result.exit_code == exitcodes.USAGE, result.stderr
    assert shown in result.stderr
    assert "put `--` first" in result.stderr
    assert recorded(harness) == []


def test_the_refusal_names_both_command_lines(harness: CliHarness) -> None:
    result = harness.run("exec", "-e", "A=1", "terraform", "apply", "--lock", "infra-prod")

    assert result.exit_code == exitcodes.USAGE
    message = " ".join(result.stderr.split())  # as one line, whatever the terminal's width
    assert (
        "Error: `--lock infra-prod` comes after the command: to give it to mycli, put it before "
        "the command (`mycli exec -e A=1 --lock infra-prod terraform apply`); to give it to "
        "the command, put `--` first (`mycli exec -e A=1 -- terraform apply --lock infra-prod`)"
    ) in message


def test_after_the_separator_exec_options_reach_the_command_byte_for_byte(
    harness: CliHarness,
) -> None:
    args = ("printf", "[%s]", "--lock", "x", "-d", "--timeout=5m", "-eK=é ü")

    result = harness.run("exec", "--", *args)

    assert (result.exit_code, result.stdout) == (0, "[--lock][x][-d][--timeout=5m][-eK=é ü]")
    assert recorded(harness) == ["printf '[%s]' --lock x -d --timeout=5m '-eK=é ü'"]


@pytest.mark.parametrize(
    "args",
    [
        ("printf", "[%s]", "-la", "-auto-approve"),
        ("printf", "[%s]", "-it"),  # -i is exec's, -t is not: no reading gives it to mycli
        ("printf", "[%s]", "--", "--lock"),  # the command's own `--`
    ],
)
def test_options_that_are_not_execs_pass_through_without_the_separator(
    harness: CliHarness, args: tuple[str, ...]
) -> None:
    result = harness.run("exec", *args)

    assert result.exit_code == 0, result.stderr
    assert result.stdout == "".join(f"[{arg}]" for arg in args[2:])


def test_a_playbooks_run_takes_exec_options_after_its_name(harness: CliHarness) -> None:
    # `mycli run NAME --lock x` has no command line of its own to confuse: NAME is the only
    # argument and options may follow it; anything else after it is refused by click.
    result = harness.run("run", "no-such-playbook", "extra", "--lock", "x")

    assert result.exit_code == exitcodes.USAGE
    assert "unexpected extra argument (extra)" in result.stderr
    assert recorded(harness) == []
