"""`mycli locks list | release`."""

from __future__ import annotations

from urllib.parse import quote

import click

from mycli.commands.common import pass_app
from mycli.main import AppContext
from mycli.output import emit_json, emit_table, output_option

LOCK_COLUMNS = (
    ("LOCK", "lock_name"),
    ("HOLDER", "user_email"),
    ("EXECUTION", "execution_id"),
    ("ACQUIRED", "acquired_at"),
    ("EXPIRES", "expires_at"),
)


@click.group()
def locks() -> None:
    """Named locks that keep two runs off the same resource."""


@locks.command("list")
@output_option
@pass_app
def list_locks(app: AppContext, output: str) -> None:
    """Show the locks held now."""
    items = app.client().get("/locks")["items"]
    if output == "json":
        emit_json(items)
    else:
        emit_table(items, LOCK_COLUMNS)


@locks.command()
@click.argument("name")
@pass_app
def release(app: AppContext, name: str) -> None:
    """Force a lock free (admin). The holder's execution keeps running."""
    lock = app.client().delete(f"/locks/{quote(name, safe='')}")
    click.echo(
        f"released lock '{name}' (held by {lock['user_email']}, execution {lock['execution_id']})"
    )
