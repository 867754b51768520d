"""`mycli admin secrets` and `mycli exec --secret` against a real local server (in process)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli_harness import CliHarness
from mycli.commands import secrets as secret_commands
from mycli.main import cli

VALUE = "Cli-Secret-Value-77"


def run(harness: CliHarness, *args: str, key: str, stdin: str | None = None) -> Result:
    environment = {
        "XDG_CONFIG_HOME": str(harness.config_home),
        "MYCLI_API_URL": harness.url,
        "MYCLI_API_KEY": key,
        "MYCLI_PROFILE": "",
    }
    return CliRunner().invoke(cli, list(args), env=environment, input=stdin)


def stored_value(harness: CliHarness, name: str) -> str:
    return harness.platform.secrets_store.reveal([name], "test")[name]


def test_set_reads_a_piped_value_less_one_newline_and_list_shows_no_value(
    harness: CliHarness,
) -> None:
    set_result = run(
        harness,
        *("admin", "secrets", "set", "db.password", "--description", "prod db"),
        *("--image", "psql", "--image", "terraform"),
        key=harness.admin_key,
        stdin=VALUE + "\n",
    )
    listed = run(harness, "admin", "secrets", "list", key=harness.admin_key)
    as_json = run(harness, "admin", "secrets", "list", "-o", "json", key=harness.admin_key)

    assert set_result.exit_code == 0, set_result.output
    assert set_result.stderr == "mycli: set secret db.password (version 1)\n"
    assert stored_value(harness, "db.password") == VALUE
    assert listed.stdout.splitlines()[0].split() == [
        "NAME",
        "DESCRIPTION",
        "IMAGES",
        "SET",
        "BY",
        "SET",
        "VERSION",
    ]
    assert "db.password  prod db      psql,terraform  admin@example.com" in listed.stdout
    items: list[dict[str, Any]] = json.loads(as_json.stdout)
    assert [(i["name"], i["images"], i["version"]) for i in items] == [
        ("db.password", ["psql", "terraform"], 1)
    ]
    for result in (set_result, listed, as_json):
        assert VALUE not in result.output


def test_set_prompts_twice_without_echo_on_a_terminal(
    harness: CliHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(secret_commands, "interactive", lambda stdin: True)

    result = run(
        harness,
        *("admin", "secrets", "set", "token"),
        key=harness.admin_key,
        stdin=f"{VALUE}\n{VALUE}\n",
    )

    assert result.exit_code == 0, result.output
    assert VALUE not in result.output
    assert "Value: " in result.output and "Repeat for confirmation: " in result.output
    assert stored_value(harness, "token") == VALUE


def test_delete_removes_a_secret_and_an_unknown_one_is_4(harness: CliHarness) -> None:
    run(harness, "admin", "secrets", "set", "token", key=harness.admin_key, stdin=VALUE)

    deleted = run(harness, "admin", "secrets", "delete", "token", key=harness.admin_key)
    again = run(harness, "admin", "secrets", "delete", "token", key=harness.admin_key)
    empty = run(harness, "admin", "secrets", "list", key=harness.admin_key)

    assert (deleted.exit_code, deleted.stdout) == (0, "deleted secret token\n")
    assert (again.exit_code, again.stderr) == (4, "mycli: error: secret token not found\n")
    assert empty.stderr == "no secrets\n"


@pytest.mark.parametrize(
    "args",
    [
        ("set", "token"),
        ("list",),
        ("delete", "token"),
    ],
)
def test_users_get_exit_3(harness: CliHarness, args: tuple[str, ...]) -> None:
    result = run(harness, "admin", "secrets", *args, key=harness.user_key, stdin=VALUE)

    assert (result.exit_code, result.stderr) == (3, "mycli: error: this needs the admin role\n")


def test_a_user_is_refused_before_being_asked_for_the_value(
    harness: CliHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(secret_commands, "interactive", lambda stdin: True)

    result = run(harness, "admin", "secrets", "set", "token", key=harness.user_key, stdin="")

    assert (result.exit_code, result.stderr) == (3, "mycli: error: this needs the admin role\n")
    assert "Value" not in result.output


@pytest.mark.parametrize(
    ("args", "stdin", "words"),
    [
        (("set", "bad name"), VALUE, "secret names are 1-128 characters"),
        (("set", "token"), "", "the value is empty"),
        (("set", "token"), "\n", "the value is empty"),
        (("set", "token", "--image", "a b"), VALUE, "names are 1-128"),
    ],
)
def test_bad_input_is_exit_2_in_one_line(
    harness: CliHarness, args: tuple[str, ...], stdin: str, words: str
) -> None:
    result = run(harness, "admin", "secrets", *args, key=harness.admin_key, stdin=stdin)

    assert result.exit_code == 2 and words in result.stderr, result.output
    assert VALUE not in result.output


def test_exec_gives_the_command_its_secrets_masked(harness: CliHarness) -> None:
    run(harness, "admin", "secrets", "set", "db.password", key=harness.admin_key, stdin=VALUE)
    run(harness, "admin", "secrets", "set", "API_TOKEN", key=harness.admin_key, stdin="tok-99999")

    result = run(
        harness,
        *("exec", "--secret", "API_TOKEN", "--secret", "DB=db.password", "--"),
        'echo "$DB $API_TOKEN"; test "${#DB}" = 19',
        key=harness.user_key,
    )

    assert result.exit_code == 0, result.output
    assert result.stdout == "*** ***\n"
    assert VALUE not in result.output and "tok-99999" not in result.output


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("--secret", "missing"), 2, "no such secret: missing"),
        (("--secret", "db.password"), 2, "use --secret VAR=NAME"),
        (("--secret", "X=bad name"), 2, "secret names are"),
        (("--secret", "X=a", "--secret", "X=b"), 2, "X is given twice"),
        (("-e", "X=1", "--secret", "X=a"), 2, "set both with -e and with --secret"),
    ],
)
def test_exec_refuses_bad_secrets_with_exit_2(
    harness: CliHarness, args: tuple[str, ...], code: int, words: str
) -> None:
    result = run(harness, "exec", *args, "--", "true", key=harness.user_key)

    assert result.exit_code == code and words in result.stderr, result.output
