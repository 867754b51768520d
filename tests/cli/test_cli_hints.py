"""What the CLI tells a person who slips or wants to know more: a suggestion for a mistyped
command, where to find an execution id, how to follow a detached run, a status without
empty rows, relative times in tables, counts in words, and a playbook's params in `run
NAME --help`. In-process, against a real local server where one is needed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli_harness import CliHarness
from mycli import exitcodes
from mycli.commands.common import EXECUTION_FIELDS
from mycli.main import cli
from playbook_repo import make_repo, write

ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")


def offline(*args: str) -> Result:
    """mycli with no server: what it says before it would need one."""
    return CliRunner().invoke(cli, list(args), env={"MYCLI_PROFILE": ""}, prog_name="mycli")


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        (["lsit"], "list"),
        (["stauts"], "status"),
        (["locks", "relase"], "release"),
        (["admin", "lsit-users"], "list-users"),
        (["admin", "images", "regster"], "register"),
        (["admin", "secrets", "lis"], "list"),
        (["images", "lst"], "list"),
        (["profiles", "uze"], "use"),
        (["local", "dwn"], "down"),
        (["playbooks", "shw"], "show"),
    ],
)
def test_a_mistyped_command_gets_the_near_one_and_exit_2(typed: list[str], meant: str) -> None:
    result = offline(*typed)

    assert result.exit_code == exitcodes.USAGE
    assert f"No such command '{typed[-1]}'. Did you mean '{meant}'?" in result.stderr


def test_a_subcommand_typed_at_the_top_names_its_full_command() -> None:
    result = offline("secrets", "list")

    assert result.exit_code == exitcodes.USAGE
    assert "No such command 'secrets'. Did you mean `mycli admin secrets`?" in result.stderr


def test_a_name_like_no_command_gets_no_suggestion() -> None:
    result = offline("xyzzy")

    assert result.exit_code == exitcodes.USAGE
    assert "No such command 'xyzzy'." in result.stderr
    assert "Did you mean" not in result.stderr


@pytest.mark.parametrize("command", ["logs", "status", "cancel"])
def test_a_missing_execution_id_says_where_to_find_one(command: str) -> None:
    result = offline(command)

    assert result.exit_code == exitcodes.USAGE
    assert (
        "Missing argument 'EXECUTION_ID'. `mycli list` shows recent runs; "
        f"then `mycli {command} ID`" in result.stderr
    )


def test_a_detached_run_prints_its_id_and_how_to_follow_it(harness: CliHarness) -> None:
    result = harness.run("exec", "--detach", "--", "true")

    execution_id = result.stdout.strip()
    assert result.exit_code == 0
    assert re.fullmatch(r"[0-9a-f]{32}", execution_id)
    assert f"follow it with: mycli logs -f {execution_id}\n" in result.stderr
    assert f"check on it with: mycli status {execution_id}\n" in result.stderr


def test_the_follow_hint_names_the_profile_the_run_is_on(harness: CliHarness) -> None:
    result = harness.run("--profile", "team a", "exec", "-d", "-o", "json", "--", "true")

    execution_id = json.loads(result.stdout)["execution_id"]
    assert f"mycli --profile 'team a' logs -f {execution_id}\n" in result.stderr


def test_status_shows_only_the_fields_that_have_values(harness: CliHarness) -> None:
    execution_id = harness.run("exec", "-d", "--", "true").stdout.strip()
    harness.run("logs", "-f", execution_id)

    shown = harness.run("status", execution_id)
    full = json.loads(harness.run("status", execution_id, "-o", "json").stdout)

    rows = dict(line.split(None, 1) for line in shown.stdout.splitlines())
    filled = [
        key for key in EXECUTION_FIELDS if key == "duration" or full.get(key) not in (None, "", [])
    ]
    assert list(rows) == filled
    assert "-" not in rows.values()
    assert rows["exit_code"] == "0"
    assert re.fullmatch(r"\S+Z \((just now|\d+ s ago)\)", rows["started_at"])
    assert "lock_name" in full and full["lock_name"] is None  # json keeps every field
    assert ISO_TIME.match(full["started_at"])


def test_locks_list_shows_relative_times_and_json_keeps_iso(harness: CliHarness) -> None:
    holder = harness.run("exec", "-d", "--lock", "prod", "--timeout", "60", "--", "sleep 30")
    try:
        table = harness.run("locks", "list").stdout.splitlines()
        listed = json.loads(harness.run("locks", "list", "-o", "json").stdout)
    finally:
        harness.run("cancel", holder.stdout.strip(), key=harness.admin_key)

    assert table[0].startswith(f"prod: run {holder.stdout.strip()} by user@example.com (")
    assert re.search(r", since (just now|\d+ s ago), until in \d+ (min|s)$", table[0])
    assert not ISO_TIME.search(table[0])
    held_by = listed["locks"][0]["holder"]
    assert ISO_TIME.match(held_by["since"]) and ISO_TIME.match(held_by["until"])


def test_run_name_help_shows_the_playbook_s_params(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_repo(tmp_path, monkeypatch)
    write(
        root,
        "ship.yml",
        """
        description: Ship a release
        command: echo ship
        params:
          target: {description: where it goes, choices: [dev, prod]}
          version: {description: the version, default: "1.0", pattern: "[0-9.]+"}
        """,
    )

    result = offline("run", "ship", "--help")

    assert result.exit_code == 0
    assert "Playbook ship (" in result.stdout and "): Ship a release" in result.stdout
    lines = [line.split() for line in result.stdout.splitlines()]
    assert ["PARAM", "TYPE", "DEFAULT", "DESCRIPTION"] in lines
    assert ["target", "one", "of:", "dev,", "prod", "(required)", "where", "it", "goes"] in lines
    assert ["version", "matching", "[0-9.]+", "1.0", "the", "version"] in lines
    assert result.stdout.index("PARAM") < result.stdout.index("Options:")


def test_run_help_with_options_before_the_name_still_finds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_repo(tmp_path, monkeypatch)

    result = offline("run", "--lock", "x", "greet", "-h")

    assert "Playbook greet (" in result.stdout
    assert ["who", "text", "world", "who", "to", "greet"] in [
        line.split() for line in result.stdout.splitlines()
    ]


def test_run_help_for_a_missing_playbook_says_so_and_still_helps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_repo(tmp_path, monkeypatch)

    result = offline("run", "nope", "--help")

    assert result.exit_code == 0
    assert "Playbook nope: no playbook 'nope'" in result.stdout
    assert "Options:" in result.stdout


def test_run_help_without_a_name_is_the_plain_help() -> None:
    result = offline("run", "--help")

    assert result.exit_code == 0
    assert "Playbook" not in result.stdout
