"""Profiles: `--profile` in any position, MYCLI_PROFILE."""

from __future__ import annotations

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
