"""`mycli status | logs | list | cancel`: looking at and stopping executions."""

from __future__ import annotations

import shlex
from typing import Any

import click

from mycli.client import api_path
from mycli.commands.common import (
    EXECUTION_COLUMNS,
    EXECUTION_FIELDS,
    for_fields,
    for_table,
    pass_app,
)
from mycli.commands.remote_values import EXECUTION_ID
from mycli.follow import TERMINAL, LogFollower
from mycli.main import AppContext
from mycli.output import emit_fields, emit_json, emit_table, output_option
from mycli.streams import ChunkWriter, JsonChunkWriter

# `list --checks`: which rows are checks, before the (long) command.
CHECK_COLUMNS = (*EXECUTION_COLUMNS[:-1], ("PURPOSE", "purpose"), EXECUTION_COLUMNS[-1])
STATUSES = ["QUEUED", "PENDING", "STARTING", "RUNNING", "CANCELLING", *sorted(TERMINAL)]


@click.command()
@click.argument("execution_id", type=EXECUTION_ID)
@output_option
@pass_app
def status(app: AppContext, execution_id: str, output: str) -> None:
    """Show one execution: status, exit code, reason, who ran what and when."""
    execution = app.client().get(api_path("executions", execution_id))
    if output == "json":
        emit_json(execution)
    else:
        emit_fields(for_fields(execution), EXECUTION_FIELDS)


@click.command()
@click.argument("execution_id", type=EXECUTION_ID)
@click.option("--follow", "-f", is_flag=True, help="Keep printing new output until it finishes.")
@click.option("--timestamps", "-t", is_flag=True, help="Prefix each chunk with its timestamp.")
@output_option
@pass_app
def logs(app: AppContext, execution_id: str, follow: bool, timestamps: bool, output: str) -> None:
    """Print an execution's output, byte for byte: its stdout on stdout, its stderr on stderr
    (json: one object per chunk with offset, stream, timestamp and base64 data)."""
    writer = JsonChunkWriter() if output == "json" else ChunkWriter(timestamps=timestamps)
    LogFollower(app.client(), execution_id, writer).run(follow=follow)


@click.command("list")
@click.option(
    "--status",
    "status_filter",
    type=click.Choice(STATUSES, case_sensitive=False),
    help="Only this status (any case).",
)
@click.option("--user", metavar="EMAIL", help="Admins: only this user's executions.")
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--cursor", metavar="CURSOR", help="Continue a previous listing.")
@click.option("--all", "every_page", is_flag=True, help="Page through everything.")
@click.option(
    "--checks",
    is_flag=True,
    help="Also list checks (`mycli doctor`'s runs), with a PURPOSE column.",
)
@output_option
@pass_app
def list_executions(
    app: AppContext,
    status_filter: str | None,
    user: str | None,
    limit: int,
    cursor: str | None,
    every_page: bool,
    checks: bool,
    output: str,
) -> None:
    """List executions, newest first (admins see everyone's). Checks made by `mycli doctor`
    are left out unless --checks."""
    client = app.client()
    filters: dict[str, Any] = {"status": status_filter, "user": user, "limit": limit}
    if checks:
        filters["include_checks"] = "true"
    page = client.get("/executions", **filters, cursor=cursor)
    items = list(page["items"])
    while every_page and page.get("next_cursor"):
        page = client.get("/executions", **filters, cursor=page["next_cursor"])
        items += page["items"]
    if output == "json":
        emit_json({"items": items, "next_cursor": page.get("next_cursor")})
        return
    columns = CHECK_COLUMNS if checks else EXECUTION_COLUMNS
    emit_table(for_table(items), columns, empty="no executions")
    if page.get("next_cursor"):
        click.echo(f"more: {next_page_command(filters, page['next_cursor'])}", err=True)


def next_page_command(filters: dict[str, Any], cursor: str) -> str:
    """The `mycli list` command for the next page, with the same filters."""
    words = ["mycli", "list"]
    for option in ("status", "user", "limit"):
        if filters.get(option) is not None:
            words += [f"--{option}", str(filters[option])]
    if filters.get("include_checks"):
        words.append("--checks")
    return shlex.join([*words, "--cursor", cursor])


@click.command()
@click.argument("execution_id", type=EXECUTION_ID)
@output_option
@pass_app
def cancel(app: AppContext, execution_id: str, output: str) -> None:
    """Cancel an execution (nothing happens to one that has finished)."""
    execution = app.client().post(api_path("executions", execution_id, "cancel"))
    if output == "json":
        emit_json(execution)
    else:
        click.echo(f"{execution['execution_id']} {execution['status']}")
