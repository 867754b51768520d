"""`mycli migrate --to PROFILE`: move an embedded platform (`mycli local up`'s data
directory) to another deployment, usually AWS, through its API with an admin key."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mycli import exitcodes
from mycli.client import ApiClient
from mycli.commands.common import data_dir_option
from mycli.config import ConfigFile, config_path
from mycli.errors import CliError, ConfigError
from mycli.migration import Migration, Tally

STEPS = ("users", "images", "secrets", "executions")


@click.command()
@click.option(
    "--to",
    "profile_name",
    required=True,
    metavar="PROFILE",
    help="The target deployment's profile (with an admin key).",
)
@data_dir_option("The embedded platform's data directory (only read).")
def migrate(profile_name: str, data_dir: Path) -> None:
    """Move users (their keys keep working), images, secrets and finished executions with
    their output from the embedded platform in --data-dir to the deployment of PROFILE.

    Safe while the server runs and safe to repeat: what the target already has is skipped
    (a second run changes nothing; an interrupted one continues). Runs still going are
    left (run it again once they end). Exit 5 when the target holds something under the
    same id with other content (listed; nothing is overwritten)."""
    from mycli.migrate_source import SourcePlatform

    target = _target(profile_name, data_dir)
    source = SourcePlatform(data_dir.expanduser().resolve())
    done: list[Tally] = []

    def report(tally: Tally) -> None:
        line = ", ".join(str(t) for t in [*done, tally])
        click.echo(f"mycli: {line}", err=True)

    migration = Migration(source, target, report)
    for step in STEPS:
        done.append(getattr(migration, step)())
    summary = ", ".join(f"{t.kind} {t.imported} moved, {t.present} already there" for t in done)
    click.echo(f"mycli: migrated to '{profile_name}': {summary}", err=True)
    if migration.running_left:
        click.echo(
            f"mycli: {migration.running_left} executions still running were not moved: run "
            "`mycli migrate` again once they end",
            err=True,
        )
    refused = [line for tally in done for line in tally.refused]
    if refused:
        for line in refused:
            click.echo(f"mycli: refused: {line}", err=True)
        raise CliError(
            f"{len(refused)} records exist on '{profile_name}' with other content (not replaced)",
            exitcodes.CONFLICT,
        )


def _target(profile_name: str, data_dir: Path) -> ApiClient:
    """The target profile's client, once its key is known to be an admin's."""
    config = ConfigFile.load()
    profile = config.profiles.get(profile_name)
    if profile is None:
        known = ", ".join(sorted(config.profiles)) or "none"
        raise ConfigError(f"no profile named '{profile_name}' in {config_path()} (known: {known})")
    url, key = profile.get("api_url"), profile.get("api_key")
    if not url or not key:
        raise ConfigError(f"profile '{profile_name}' needs an API URL and key: `mycli configure`")
    if url.rstrip("/") == _source_url(data_dir):
        raise ConfigError(f"profile '{profile_name}' is the platform in {data_dir} itself")
    client = ApiClient(url, key)
    if client.get("/me").get("role") != "admin":
        raise CliError(f"profile '{profile_name}' needs an admin key", exitcodes.AUTH)
    return client


def _source_url(data_dir: Path) -> str | None:
    try:
        state = json.loads((data_dir / "server.json").read_text())
    except (OSError, ValueError):
        return None
    url = state.get("url") if isinstance(state, dict) else None
    return url.rstrip("/") if isinstance(url, str) else None
