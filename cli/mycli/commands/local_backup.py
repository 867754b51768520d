"""`mycli local backup DEST`: a consistent copy of the embedded platform's data directory,
taken while the server runs (see orchestrator/local/backup.py and docs/outgrowing.md)."""

from __future__ import annotations

from pathlib import Path

import click

from mycli import exitcodes
from mycli.commands.common import data_dir_option
from mycli.errors import CliError


@click.command()
@click.argument("dest", type=click.Path(path_type=Path))
@data_dir_option("The data directory to back up.")
def backup(dest: Path, data_dir: Path) -> None:
    """Copy the database (SQLite's online backup), the logs, uploads and the secrets key into
    DEST, a new or empty directory, while the server runs. DEST holds keys: it is made 0700,
    its files 0600. Restore with `mycli local up --data-dir DEST` (docs/outgrowing.md)."""
    from orchestrator.local.backup import BackupRefused, back_up

    data_dir = data_dir.expanduser().resolve()
    dest = dest.expanduser().resolve()
    if dest == data_dir or data_dir in dest.parents:
        raise CliError(f"{dest} is inside the data directory {data_dir}", exitcodes.USAGE)
    try:
        summary = back_up(data_dir, dest)
    except BackupRefused as error:
        raise CliError(str(error), exitcodes.USAGE) from None
    except OSError as error:
        raise CliError(f"the backup failed, nothing was kept: {error}") from None
    unfinished = (
        f"; {summary.unfinished} unfinished, recorded FAILED when served from the copy"
        if summary.unfinished
        else ""
    )
    key = " and the secrets key" if summary.secrets_key else ""
    click.echo(
        f"mycli: backed up {_count(summary.executions, 'execution')} "
        f"({_count(summary.logs, 'log')}{unfinished}), {_count(summary.uploads, 'upload')}"
        f"{key} into {dest} ({summary.size_bytes / 1e6:.1f} MB)",
        err=True,
    )
    click.echo(f"mycli: serve it with `mycli local up --data-dir {dest}`", err=True)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
