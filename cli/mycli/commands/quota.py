"""`mycli quota`: the running-execution limits and how many are running."""

from __future__ import annotations

import click

from mycli.commands.common import pass_app
from mycli.main import AppContext
from mycli.output import emit_json, output_option


@click.command()
@output_option
@pass_app
def quota(app: AppContext, output: str) -> None:
    """Show the running-execution limits and your running count (admins: everyone's too)."""
    figures = app.client().get("/quota")
    if output == "json":
        emit_json(figures)
        return
    click.echo(f"running: {figures['running']} of {figures['max_running_per_user']} per user")
    total = figures.get("total_running")
    limit = figures["max_running_total"]
    click.echo(
        f"platform: {total} of {limit} in total"
        if total is not None
        else f"platform limit: {limit} in total"
    )
