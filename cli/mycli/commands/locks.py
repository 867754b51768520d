"""`mycli locks list | hold | release | history`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from mycli.client import api_path
from mycli.commands.common import pass_app
from mycli.commands.remote_values import LOCK_NAME
from mycli.durations import Duration
from mycli.errors import ApiError
from mycli.follow import TERMINAL
from mycli.lock_tables import HISTORY_COLUMNS, history_rows, locks_lines
from mycli.lock_wait import printable, time_left
from mycli.main import AppContext
from mycli.output import emit_json, emit_table, output_option

HOLD_DEFAULT_SECONDS = 3600
HOLD_MAX_SECONDS = 86400


@click.group()
def locks() -> None:
    """Named locks that keep two runs off the same resource.

    A run takes a lock with `mycli exec --lock NAME` and queues for a held one with
    `--wait-lock DURATION`; a person takes one with no run (`locks hold`) to freeze what
    it guards, with a reason everyone sees.
    """


@locks.command("list")
@output_option
@pass_app
def list_locks(app: AppContext, output: str) -> None:
    """Show the locks held or waited for, with their holders and queues.

    For each lock: its holder (a run and its status, or a hold and its reason), since and
    until when, then its queue (position, execution, user, how long each has waited, when
    each gives up). `-o json` prints the server's {"locks": [...]} as it is."""
    listing = app.client().get("/locks")
    if output == "json":
        emit_json(listing)
        return
    lines = locks_lines(listing.get("locks", []))
    if not lines:
        click.echo("no locks held or waited for", err=True)
    for line in lines:
        click.echo(line)


@locks.command()
@click.argument("name", type=LOCK_NAME)
@click.option("--reason", required=True, metavar="TEXT", help="Why (1-500 characters).")
@click.option(
    "--for",
    "seconds",
    type=Duration(1, HOLD_MAX_SECONDS, whole=True),
    default=HOLD_DEFAULT_SECONDS,
    metavar="DURATION",
    help="How long to hold it: seconds, or 90s, 30m, 2h (default 1h, at most 24h).",
)
@output_option
@pass_app
def hold(app: AppContext, name: str, reason: str, seconds: int, output: str) -> None:
    """Take lock NAME with no run, with a reason others see.

    Freezes what the lock guards (during an incident, say). Runs that need it are refused
    with your name, the reason and the time left; with `--wait-lock` they queue and start
    in order once it is released or the hold ends. End it early with
    `mycli locks release NAME`. A lock that is held already is refused (exit 5) naming its
    holder.
    """
    if not reason.strip():
        raise click.BadParameter("give a reason others can read", param_hint="--reason")
    holder = app.client().post(
        api_path("locks", name, "hold"), {"reason": reason, "seconds": int(seconds)}
    )
    if output == "json":
        emit_json(holder)
        return
    left = time_left(holder.get("until"), datetime.now(UTC)) or "0s"
    click.echo(
        f"holding lock '{printable(name)}' for {left} (until {holder.get('until')}): "
        f'"{printable(holder.get("reason", reason))}"'
    )
    click.echo(f"mycli: release it with: mycli locks release {name}", err=True)


@locks.command()
@click.argument("name", type=LOCK_NAME)
@output_option
@pass_app
def release(app: AppContext, name: str, output: str) -> None:
    """Release lock NAME (your hold; admins: any hold or a run's lock).

    The next run in its queue starts. A run whose lock is released keeps running, unlocked:
    the warning says how to stop it (`mycli cancel ID`)."""
    client = app.client()
    holder = client.delete(api_path("locks", name))
    if output == "json":
        emit_json(holder)
    elif holder.get("kind") == "hold":
        click.echo(
            f"released the hold on '{printable(name)}' (held by "
            f'{printable(holder.get("user_email"))}: "{printable(holder.get("reason", ""))}")'
        )
    else:
        click.echo(
            f"released lock '{printable(name)}' (held by {printable(holder.get('user_email'))}, "
            f"execution {holder.get('execution_id')})"
        )
    if holder.get("kind") != "hold":
        warn_if_still_running(client, holder["execution_id"])


@locks.command()
@click.argument("name", required=False, type=LOCK_NAME)
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--cursor", metavar="CURSOR", help="Continue a previous listing.")
@output_option
@pass_app
def history(app: AppContext, name: str | None, limit: int, cursor: str | None, output: str) -> None:
    """Show who held and released locks and why, newest first.

    Holds taken and released, and runs' locks freed by an admin: when, which lock, by
    whom, whose hold, the reason (NAME: that lock only)."""
    page = app.client().get("/lock-history", lock_name=name, limit=limit, cursor=cursor)
    if output == "json":
        emit_json(page)
        return
    emit_table(history_rows(page.get("items", [])), HISTORY_COLUMNS, empty="no lock history")
    if page.get("next_cursor"):
        words = ["mycli", "locks", "history", *([name] if name else []), "--limit", str(limit)]
        click.echo(f"more: {shell_words(words, page['next_cursor'])}", err=True)


def shell_words(words: list[str], cursor: str) -> str:
    import shlex

    return shlex.join([*words, "--cursor", cursor])


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
