"""`mycli profiles list | use | remove`: the saved profiles, and which one is current."""

from __future__ import annotations

import os
import sys

import click

from mycli import exitcodes
from mycli.config import DEFAULT_PROFILE, ConfigFile, config_path
from mycli.errors import CliError, ConfigError
from mycli.output import emit_json, emit_table, output_option

PROFILE_COLUMNS = (("CURRENT", "marker"), ("NAME", "name"), ("URL", "api_url"))


@click.group()
def profiles() -> None:
    """The saved profiles (`mycli configure` and `mycli local up` write them)."""


@profiles.command("list")
@output_option
def list_profiles(output: str) -> None:
    """Show each profile's name and API URL; `*` marks the current one. Keys are never shown."""
    config = ConfigFile.load()
    rows = [
        {"name": name, "api_url": values.get("api_url"), "current": name == config.current_profile}
        for name, values in sorted(config.profiles.items())
    ]
    if output == "json":
        emit_json(rows)
    else:
        table = [{**row, "marker": "*" if row["current"] else ""} for row in rows]
        emit_table(
            table, PROFILE_COLUMNS, empty="no profiles: run `mycli local up` or `mycli configure`"
        )
    _note_override(config.current_profile)


@profiles.command()
@click.argument("name")
def use(name: str) -> None:
    """Make profile NAME the current one."""
    config = ConfigFile.load()
    _require(config, name)
    config.current_profile = name
    config.save()
    click.echo(f"current profile: '{name}' ({config.profiles[name].get('api_url', 'no URL')})")
    _note_override(name)


@profiles.command()
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Remove without asking.")
def remove(name: str, yes: bool) -> None:
    """Delete profile NAME and its saved key (asks first on a terminal; else needs --yes)."""
    config = ConfigFile.load()
    _require(config, name)
    if not yes:
        if not sys.stdin.isatty():
            raise CliError(
                f"removing profile '{name}' needs confirmation: pass --yes", exitcodes.USAGE
            )
        if not click.confirm(f"remove profile '{name}' and its saved key?", default=False):
            raise CliError(f"profile '{name}' kept")
    del config.profiles[name]
    was_current = config.current_profile == name
    if was_current:
        config.current_profile = DEFAULT_PROFILE if DEFAULT_PROFILE in config.profiles else None
    config.save()
    click.echo(f"removed profile '{name}'")
    if not was_current:
        return
    if config.current_profile:
        click.echo(f"current profile now: '{config.current_profile}'", err=True)
    else:
        left = ", ".join(sorted(config.profiles)) or "none"
        click.echo(
            f"no profile is current now (profiles: {left}): "
            "choose one with `mycli profiles use NAME`",
            err=True,
        )


def _require(config: ConfigFile, name: str) -> None:
    if name not in config.profiles:
        known = ", ".join(sorted(config.profiles)) or "none"
        raise ConfigError(f"no profile named '{name}' in {config_path()} (known: {known})")


def _note_override(current: str | None) -> None:
    """MYCLI_PROFILE wins over the current profile: say so when it names another."""
    chosen = os.environ.get("MYCLI_PROFILE")
    if chosen and chosen != current:
        click.echo(
            f"note: MYCLI_PROFILE={chosen} overrides the current profile in this shell",
            err=True,
        )
