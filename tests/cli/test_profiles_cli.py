"""Profiles: `--profile` in any position, MYCLI_PROFILE, `mycli profiles list|use|remove`,
and `configure` asking before it switches, with the key from stdin or a hidden prompt."""

from __future__ import annotations

import json
import stat
import tomllib
from pathlib import Path
from typing import Any

import pytest

from cli_harness import CliHarness
from mycli import exitcodes
from mycli.config import ConfigFile

# Values come from the profiles, not the harness's MYCLI_API_URL / MYCLI_API_KEY.
FROM_PROFILES = {"MYCLI_API_URL": "", "MYCLI_API_KEY": ""}


def config_file(harness: CliHarness) -> Path:
    return harness.config_home / "mycli" / "config.toml"


def saved(harness: CliHarness) -> dict[str, Any]:
    return tomllib.loads(config_file(harness).read_text())


def two_profiles(harness: CliHarness, current: str = "work") -> None:
    """`work` (the user's key) and `boss` (the admin's), on the harness's server."""
    ConfigFile(
        current_profile=current,
        profiles={
            "work": {"api_url": harness.url, "api_key": harness.user_key},
            "boss": {"api_url": harness.url, "api_key": harness.admin_key},
        },
    ).save(config_file(harness))


# -- --profile and MYCLI_PROFILE ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env", "who"),
    [
        (("whoami",), {}, "user@example.com"),
        (("--profile", "boss", "whoami"), {}, "admin@example.com"),
        (("whoami", "--profile", "boss"), {}, "admin@example.com"),
        (("whoami", "-p", "boss"), {}, "admin@example.com"),
        (("whoami", "--profile=boss"), {}, "admin@example.com"),
        (("whoami",), {"MYCLI_PROFILE": "boss"}, "admin@example.com"),
        (("whoami", "--profile", "work"), {"MYCLI_PROFILE": "boss"}, "user@example.com"),
        (("--profile", "work", "whoami", "--profile", "boss"), {}, "admin@example.com"),
    ],
)
def test_the_flag_in_any_position_beats_mycli_profile_which_beats_the_current_one(
    harness: CliHarness, args: tuple[str, ...], env: dict[str, str], who: str
) -> None:
    two_profiles(harness)

    result = harness.run(*args, env={**FROM_PROFILES, **env})

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"{who} (")


def test_a_profile_after_a_nested_subcommand_is_mycli_s(harness: CliHarness) -> None:
    two_profiles(harness)

    as_user = harness.run("admin", "list-users", env=FROM_PROFILES)
    as_admin = harness.run("admin", "list-users", "--profile", "boss", env=FROM_PROFILES)
    unknown = harness.run("locks", "list", "--profile", "nope", env=FROM_PROFILES)

    assert as_user.exit_code == exitcodes.AUTH
    assert as_admin.exit_code == 0, as_admin.stderr
    assert "admin@example.com" in as_admin.stdout
    assert unknown.exit_code == exitcodes.USAGE
    assert "no profile named 'nope'" in unknown.stderr


def test_a_profile_after_exec_s_double_dash_is_the_command_s(harness: CliHarness) -> None:
    two_profiles(harness)

    before = harness.run("exec", "--profile", "nope", "--", "true", env=FROM_PROFILES)
    after = harness.run("exec", "--", "echo", "--profile", "nope", env=FROM_PROFILES)

    assert before.exit_code == exitcodes.USAGE
    assert "no profile named 'nope'" in before.stderr
    assert after.exit_code == 0, after.stderr
    assert after.stdout == "--profile nope\n"


def test_every_subcommand_s_help_offers_profile(harness: CliHarness) -> None:
    for command in (("configure",), ("list",), ("locks", "list"), ("admin", "images", "list")):
        result = harness.run(*command, "--help")
        assert "--profile NAME" in result.stdout, command


# -- profiles list | use | remove ---------------------------------------------------------------


def test_list_shows_names_urls_and_the_current_one_never_keys(harness: CliHarness) -> None:
    two_profiles(harness)

    table = harness.run("profiles", "list")
    as_json = harness.run("profiles", "list", "-o", "json")

    assert table.exit_code == 0, table.stderr
    assert table.stdout.splitlines() == [
        "CURRENT  NAME  URL",
        f"         boss  {harness.url}",
        f"*        work  {harness.url}",
    ]
    assert json.loads(as_json.stdout) == [
        {"name": "boss", "api_url": harness.url, "current": False},
        {"name": "work", "api_url": harness.url, "current": True},
    ]
    for output in (table.stdout, as_json.stdout):
        assert harness.user_key not in output and harness.admin_key not in output


def test_list_without_profiles_says_how_to_make_one(harness: CliHarness) -> None:
    result = harness.run("profiles", "list")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "mycli configure" in result.stderr


def test_list_says_when_mycli_profile_overrides_the_current_one(harness: CliHarness) -> None:
    two_profiles(harness)
    result = harness.run("profiles", "list", env={"MYCLI_PROFILE": "boss"})
    assert "MYCLI_PROFILE=boss overrides the current profile" in result.stderr


def test_use_switches_the_current_profile(harness: CliHarness) -> None:
    two_profiles(harness)

    used = harness.run("profiles", "use", "boss")
    whoami = harness.run("whoami", env=FROM_PROFILES)

    assert used.exit_code == 0, used.stderr
    assert used.stdout == f"current profile: 'boss' ({harness.url})\n"
    assert saved(harness)["current_profile"] == "boss"
    assert whoami.stdout.startswith("admin@example.com")
    assert stat.S_IMODE(config_file(harness).stat().st_mode) == 0o600


@pytest.mark.parametrize("command", [("use", "nope"), ("remove", "nope", "--yes")])
def test_an_unknown_name_is_refused_and_nothing_changes(
    harness: CliHarness, command: tuple[str, ...]
) -> None:
    two_profiles(harness)
    before = config_file(harness).read_text()

    result = harness.run("profiles", *command)

    assert result.exit_code == exitcodes.USAGE
    assert "no profile named 'nope'" in result.stderr
    assert "(known: boss, work)" in result.stderr
    assert config_file(harness).read_text() == before


def test_remove_off_a_terminal_needs_yes(harness: CliHarness) -> None:
    two_profiles(harness)

    refused = harness.run("profiles", "remove", "boss")

    assert refused.exit_code == exitcodes.USAGE
    assert "--yes" in refused.stderr
    assert set(saved(harness)["profiles"]) == {"boss", "work"}


def test_removing_another_profile_keeps_the_current_one(harness: CliHarness) -> None:
    two_profiles(harness)

    result = harness.run("profiles", "remove", "boss", "--yes")

    assert result.exit_code == 0, result.stderr
    assert result.stdout == "removed profile 'boss'\n"
    assert saved(harness) == {
        "current_profile": "work",
        "profiles": {"work": {"api_url": harness.url, "api_key": harness.user_key}},
    }


def test_removing_the_current_profile_says_none_is_current_now(harness: CliHarness) -> None:
    two_profiles(harness)

    result = harness.run("profiles", "remove", "work", "-y")
    whoami = harness.run("whoami", env=FROM_PROFILES)

    assert result.exit_code == 0, result.stderr
    assert "no profile is current now (profiles: boss)" in result.stderr
    assert "mycli profiles use NAME" in result.stderr
    assert "current_profile" not in saved(harness)
    assert whoami.exit_code == exitcodes.USAGE  # no `default` profile to fall back on


def test_removing_the_current_profile_falls_back_to_default(harness: CliHarness) -> None:
    ConfigFile(
        current_profile="work",
        profiles={
            "work": {"api_url": harness.url, "api_key": harness.admin_key},
            "default": {"api_url": harness.url, "api_key": harness.user_key},
        },
    ).save(config_file(harness))

    result = harness.run("profiles", "remove", "work", "--yes")

    assert result.exit_code == 0, result.stderr
    assert "current profile now: 'default'" in result.stderr
    assert saved(harness)["current_profile"] == "default"


# -- configure ----------------------------------------------------------------------------------


@pytest.mark.parametrize("key_option", [("--api-key-stdin",), ("--api-key", "-")])
def test_configure_reads_the_key_from_stdin(
    harness: CliHarness, key_option: tuple[str, ...]
) -> None:
    result = harness.run(
        "configure",
        "--profile",
        "work",
        "--api-url",
        harness.url,
        *key_option,
        env=FROM_PROFILES,
        input=harness.user_key + "\n",
    )

    assert result.exit_code == 0, result.stderr
    assert "as user@example.com (user)" in result.stdout
    assert saved(harness)["profiles"]["work"]["api_key"] == harness.user_key
    assert stat.S_IMODE(config_file(harness).stat().st_mode) == 0o600


def test_configure_off_a_terminal_keeps_the_current_profile_and_says_how_to_switch(
    harness: CliHarness,
) -> None:
    two_profiles(harness)
    args = ("configure", "--profile", "new", "--api-url", harness.url, "--api-key-stdin")

    kept = harness.run(*args, env=FROM_PROFILES, input=harness.admin_key)

    assert kept.exit_code == 0, kept.stderr
    assert saved(harness)["current_profile"] == "work"
    assert saved(harness)["profiles"]["new"]["api_key"] == harness.admin_key
    assert "current profile is still 'work'" in kept.stderr
    assert "mycli profiles use new" in kept.stderr

    switched = harness.run(*args, "--use", env=FROM_PROFILES, input=harness.admin_key)

    assert switched.exit_code == 0, switched.stderr
    assert saved(harness)["current_profile"] == "new"


def test_configure_makes_the_first_profile_current(harness: CliHarness) -> None:
    result = harness.run(
        "configure",
        "--api-url",
        harness.url,
        "--api-key-stdin",
        "--no-use",
        env={**FROM_PROFILES, "MYCLI_PROFILE": "mine"},
        input=harness.user_key,
    )
    assert result.exit_code == 0, result.stderr
    assert saved(harness)["current_profile"] == "mine"


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("--api-key-stdin",), "", "no API key on stdin"),
        (("--api-key-stdin", "--api-key", "k"), "k", "not both"),
        ((), "", "no API key: pipe it with --api-key-stdin"),
    ],
)
def test_configure_without_a_usable_key_saves_nothing(
    harness: CliHarness, args: tuple[str, ...], stdin: str, message: str
) -> None:
    result = harness.run(
        "configure", "--api-url", harness.url, *args, env=FROM_PROFILES, input=stdin
    )
    assert result.exit_code == exitcodes.USAGE
    assert message in result.stderr
    assert not config_file(harness).exists()


def test_configure_s_help_warns_that_a_key_argument_lands_in_shell_history(
    harness: CliHarness,
) -> None:
    result = harness.run("configure", "--help")
    assert "shell history" in " ".join(result.stdout.split())
    assert "--api-key-stdin" in result.stdout
