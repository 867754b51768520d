"""`mycli locks list | release`."""

from __future__ import annotations

from typing import Any

import click

from mycli.client import api_path
from mycli.commands.common import pass_app
from mycli.errors import ApiError
from mycli.follow import TERMINAL
from mycli.main import AppContext
from mycli.output import ago, emit_json, emit_table, output_option, until

LOCK_COLUMNS = (
    ("LOCK", "lock_name"),
    ("HOLDER", "user_email"),
    ("EXECUTION", "execution_id"),
    ("ACQUIRED", "acquired_ago"),
    ("EXPIRES", "expires_in"),
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
        rows = [
            {
                **lock,
                "acquired_ago": ago(lock.get("acquired_at")),
                "expires_in": until(lock.get("expires_at")),
            }
            for lock in items
        ]
        emit_table(rows, LOCK_COLUMNS, empty="no locks held")


@locks.command()
@click.argument("name")
@output_option
@pass_app
def release(app: AppContext, name: str, output: str) -> None:
    """Force a lock free (admin). The holder's execution keeps running: stop it with
    `mycli cancel ID`, as the warning says."""
    client = app.client()
    lock = client.delete(api_path("locks", name))
    if output == "json":
        emit_json(lock)
    else:
        click.echo(
            f"released lock '{name}' (held by {lock['user_email']}, "
            f"execution {lock['execution_id']})"
        )
    warn_if_still_running(client, lock["execution_id"])


def warn_if_still_running(client: Any, execution_id: str) -> None:
    """The run that held a force-released lock goes on, now unlocked: say so, and how to stop
    it."""
    try:
        status = client.get(api_path("executions", execution_id))["status"]
    except ApiError:
        return  # gone or not visible: nothing left to warn about
    if status in TERMINAL:
        return
    click.echo(
        f"mycli: warning: execution {execution_id} is still {status}, now without the lock; "
        f"stop it with: mycli cancel {execution_id}",
        err=True,
    )
