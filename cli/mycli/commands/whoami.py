"""`mycli whoami`: which user and server this profile talks to."""

from __future__ import annotations

import click

from mycli.commands.common import pass_app
from mycli.main import AppContext
from mycli.output import emit_json, output_option


@click.command()
@output_option
@pass_app
def whoami(app: AppContext, output: str) -> None:
    """Show the user behind the API key, and the server."""
    client = app.client()
    me = client.get("/me")
    if output == "json":
        emit_json({**me, "api_url": client.api_url})
    else:
        click.echo(f"{me['email']} ({me['role']}) at {client.api_url}")
