"""`mycli configure`: store an API URL and key as a named profile."""

from __future__ import annotations

import click

from mycli.config import ConfigFile
from mycli.errors import CliError


@click.command()
@click.option("--api-url", metavar="URL", help="The platform's API URL.")
@click.option("--api-key", metavar="KEY", help="Your API key (prompted for, hidden, if omitted).")
@click.option("--no-verify", is_flag=True, help="Save without checking the key against the API.")
@click.pass_context
def configure(
    ctx: click.Context, api_url: str | None, api_key: str | None, no_verify: bool
) -> None:
    """Save an API URL and key as a profile (the --profile name, else `default`) and make it
    the current one. The file is written with mode 0600."""
    from mycli.client import ApiClient

    name = ctx.obj.profile_name or "default"
    config = ConfigFile.load()
    existing = config.profiles.get(name, {})
    api_url = api_url or click.prompt("API URL", default=existing.get("api_url"))
    api_key = api_key or click.prompt("API key", hide_input=True)
    assert api_url is not None and api_key is not None
    identity = ""
    if not no_verify:
        try:
            me = ApiClient(api_url, api_key).get("/me")
        except CliError as error:
            raise CliError(
                f"not saved: {error.message} (use --no-verify to save anyway)", error.exit_code
            ) from error
        identity = f" as {me['email']} ({me['role']})"
    config.set_profile(name, make_current=True, api_url=api_url, api_key=api_key)
    path = config.save()
    click.echo(f"saved profile '{name}'{identity} in {path}")
