"""The CLI's exit codes, messages and output formats (CliRunner against a real local server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_harness import CliHarness
from mycli import exitcodes
from mycli.commands.local import reachable_url
from mycli.config import ConfigFile
from orchestrator.domain.models import Caller


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("exec", "--", ""), "the command is empty"),
        (("exec", "--", "   "), "the command is empty"),
        (("exec", "--", "x" * 16385), "over the limit of 16384"),
        (("exec", "--lock", "has space", "--", "true"), "lock names are 1-128 characters"),
        (("exec", "--lock", "", "--", "true"), "lock names are 1-128 characters"),
        (("exec", "--lock", "x" * 129, "--", "true"), "lock names are 1-128 characters"),
        (("exec", "--wait-lock", "5", "--", "true"), "--wait-lock needs --lock"),
        (("exec", "--timeout", "0", "--", "true"), "--timeout"),
        (("exec", "-o", "json", "--", "true"), "--output json goes with --detach"),
    ],
)
def test_bad_exec_input_is_2_in_words_and_nothing_runs(
    harness: CliHarness, args: tuple[str, ...], words: str
) -> None:
    result = harness.run(*args)

    assert result.exit_code == exitcodes.USAGE, result.stderr
    assert words in result.stderr
    assert "^[" not in result.stderr
    assert harness.platform.services.executions.list_page(_admin(harness), limit=10).items == []


def _admin(harness: CliHarness) -> Caller:
    return harness.platform.services.users.authenticate(harness.admin_key)


def test_input_only_the_server_checks_is_2_as_well(harness: CliHarness) -> None:
    result = harness.run("exec", "--secret", "no-such-secret", "--", "true")

    assert result.exit_code == exitcodes.USAGE, result.stderr
    assert "no-such-secret" in result.stderr


def test_an_env_value_over_the_limit_is_2_before_the_request(harness: CliHarness) -> None:
    result = harness.run("exec", "-e", f"BIG={'x' * 9000}", "--", "true")

    assert result.exit_code == exitcodes.USAGE
    assert "the value of BIG is 9000 characters, over the limit of 8192" in result.stderr


def test_a_missing_api_key_is_3(harness: CliHarness) -> None:
    result = harness.run("whoami", env={"MYCLI_API_KEY": ""})

    assert result.exit_code == exitcodes.AUTH
    assert "no API key for profile" in result.stderr


def test_exec_with_a_bad_key_is_3_not_125(harness: CliHarness) -> None:
    result = harness.run("exec", "--", "true", key="mycli_wrong")

    assert result.exit_code == exitcodes.AUTH


@pytest.mark.parametrize("execution_id", ["a b", "?limit=1", "../../x", "x/cancel", "%41"])
def test_odd_execution_ids_are_not_found_never_another_route(
    harness: CliHarness, execution_id: str
) -> None:
    for command in ("status", "cancel"):
        result = harness.run(command, execution_id)

        assert result.exit_code == exitcodes.NOT_FOUND, (command, result.stdout)
        assert result.stdout == ""


def test_an_unknown_profile_has_one_message_however_it_is_chosen(harness: CliHarness) -> None:
    config = ConfigFile(current_profile="gone", profiles={"work": {"api_url": "http://x"}})
    config.save(harness.config_home / "mycli" / "config.toml")
    no_url = {"MYCLI_API_URL": ""}

    chosen = [
        harness.run("--profile", "gone", "whoami", env=no_url),
        harness.run("whoami", env={**no_url, "MYCLI_PROFILE": "gone"}),
        harness.run("whoami", env=no_url),
    ]

    assert {result.exit_code for result in chosen} == {exitcodes.USAGE}
    assert len({result.stderr for result in chosen}) == 1
    assert "no profile named 'gone'" in chosen[0].stderr
    assert "(known: work)" in chosen[0].stderr


def test_the_pagination_hint_keeps_the_filters_and_all_pages_through(
    harness: CliHarness,
) -> None:
    for code in (1, 2, 0):
        harness.run("exec", "--", f"exit {code}")

    page = harness.run("list", "--status", "failed", "--limit", "1")
    everything = json.loads(
        harness.run("list", "--status", "FAILED", "--limit", "1", "--all", "-o", "json").stdout
    )

    hint = page.stderr.strip()
    assert hint.startswith("more: mycli list --status FAILED --limit 1 --cursor ")
    assert page.stdout.count("FAILED") == 1
    assert [e["exit_code"] for e in everything["items"]] == [2, 1]
    assert everything["next_cursor"] is None


def test_empty_tables_say_so(harness: CliHarness) -> None:
    assert harness.run("list").stderr == "no executions\n"
    assert harness.run("locks", "list").stderr == "no locks held or waited for\n"


def test_data_commands_speak_json(harness: CliHarness) -> None:
    detached = json.loads(harness.run("exec", "-d", "-o", "json", "--", "sleep 5").stdout)
    holder = json.loads(
        harness.run("exec", "-d", "-o", "json", "--lock", "db", "--", "sleep 5").stdout
    )
    released = json.loads(
        harness.run("locks", "release", "db", "-o", "json", key=harness.admin_key).stdout
    )
    cancelled = json.loads(harness.run("cancel", detached["execution_id"], "-o", "json").stdout)
    harness.run("admin", "add-user", "gone@example.com", key=harness.admin_key)
    revoked = json.loads(
        harness.run(
            "admin", "revoke-user", "gone@example.com", "-o", "json", key=harness.admin_key
        ).stdout
    )

    assert set(detached) == {"execution_id", "status"}
    assert released["execution_id"] == holder["execution_id"]
    assert cancelled["status"] in ("CANCELLING", "CANCELLED")
    assert (revoked["email"], revoked["revoked"]) == ("gone@example.com", True)
    harness.run("cancel", holder["execution_id"])


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_come_from_click(harness: CliHarness, shell: str) -> None:
    result = harness.run("completion", shell)

    assert result.exit_code == 0
    assert "_MYCLI_COMPLETE" in result.stdout


def test_local_status_speaks_json_when_nothing_runs(harness: CliHarness, tmp_path: Path) -> None:
    result = harness.run("local", "status", "--data-dir", str(tmp_path / "none"), "-o", "json")

    assert result.exit_code == 1
    assert json.loads(result.stdout)["running"] is False


@pytest.mark.parametrize(
    ("served", "profile"),
    [
        ("http://0.0.0.0:8765", "http://127.0.0.1:8765"),
        ("http://:::8765", "http://[::1]:8765"),
        ("http://[::]:8765", "http://[::1]:8765"),
        ("http://127.0.0.2:8765", "http://127.0.0.2:8765"),
    ],
)
def test_a_server_bound_to_every_address_gets_a_reachable_profile_url(
    served: str, profile: str
) -> None:
    assert reachable_url(served) == profile


@pytest.mark.parametrize(
    ("command", "stderr_starts"),
    [
        # The command's stderr ends mid-line: mycli's own line starts on the next one
        ("printf out; printf err >&2; exit 3", "err\nmycli: execution "),
        # It ends a line already: nothing is added
        ("printf out; printf 'err\\n' >&2; exit 3", "err\nmycli: execution "),
    ],
)
def test_mycli_s_own_stderr_line_is_never_glued_to_the_command_s(
    harness: CliHarness, command: str, stderr_starts: str
) -> None:
    result = harness.run("exec", "--", command)

    assert (result.exit_code, result.stdout) == (3, "out")
    after_start = result.stderr.split(" started\n", 1)[1]
    assert after_start.startswith(stderr_starts), result.stderr
    assert "\n\nmycli:" not in result.stderr
