"""`mycli configure`: store an API URL and key as a named profile."""

from __future__ import annotations

import os
import sys

import click

from mycli.config import ConfigFile
from mycli.errors import CliError, ConfigError


@click.command()
@click.option("--api-url", metavar="URL", help="The platform's API URL.")
@click.option(
    "--api-key",
    metavar="KEY",
    help="Your API key, or `-` to read it from stdin. A key typed here lands in your shell "
    "history: prefer --api-key-stdin, or leave it out to be asked for it without echo.",
)
@click.option("--api-key-stdin", is_flag=True, help="Read the API key from stdin.")
@click.option(
    "--use/--no-use",
    default=None,
    help="Make this profile the current one (or not) without asking. Asked on a terminal "
    "when another profile is current; elsewhere the current one stays unless --use.",
)
@click.option("--no-verify", is_flag=True, help="Save without checking the key against the API.")
@click.pass_context
def configure(
    ctx: click.Context,
    api_url: str | None,
    api_key: str | None,
    api_key_stdin: bool,
    use: bool | None,
    no_verify: bool,
) -> None:
    """Save an API URL and key as a profile: the --profile name, else MYCLI_PROFILE, else
    `default`. The file is written with mode 0600."""
    from mycli.client import ApiClient

    name = ctx.obj.profile_name or os.environ.get("MYCLI_PROFILE") or "default"
    config = ConfigFile.load()
    existing = config.profiles.get(name, {})
    api_url = api_url or _ask_url(existing.get("api_url"))
    api_key = _read_key(api_key, api_key_stdin)
    identity = ""
    if not no_verify:
        try:
            me = ApiClient(api_url, api_key).get("/me")
        except CliError as error:
            raise CliError(
                f"not saved: {error.message} (use --no-verify to save anyway)", error.exit_code
            ) from error
        identity = f" as {me['email']} ({me['role']})"
    current = config.current_profile
    make_current = _should_switch(name, current, use)
    config.set_profile(name, make_current=make_current, api_url=api_url, api_key=api_key)
    path = config.save()
    click.echo(f"saved profile '{name}'{identity} in {path}")
    if config.current_profile != name:
        click.echo(
            f"current profile is still '{current}': `mycli profiles use {name}` switches, "
            f"`mycli --profile {name} ...` uses it once",
            err=True,
        )


def _ask_url(saved: str | None) -> str:
    if _interactive():
        url: str = click.prompt("API URL", default=saved)
        return url
    if saved:
        return saved
    raise ConfigError("--api-url is needed (stdin is not a terminal to ask on)")


def _read_key(given: str | None, from_stdin: bool) -> str:
    """The key from --api-key, stdin (--api-key-stdin, --api-key -) or a prompt without echo."""
    if from_stdin and given is not None:
        raise ConfigError("give the key with --api-key or --api-key-stdin, not both")
    if from_stdin or given == "-":
        key = sys.stdin.read().strip()
        if not key:
            raise ConfigError("no API key on stdin")
        return key
    if given:
        return given
    if not _interactive():
        raise ConfigError(
            "no API key: pipe it with --api-key-stdin, or run on a terminal to be asked for it"
        )
    prompted: str = click.prompt("API key", hide_input=True)
    return prompted.strip()


def _should_switch(name: str, current: str | None, use: bool | None) -> bool:
    """Whether the saved profile becomes current: the first one always; over another only
    with --use, or when the user says yes on a terminal."""
    if current is None or current == name:
        return True
    if use is not None:
        return use
    if not _interactive():
        return False
    return click.confirm(f"make '{name}' the current profile (now '{current}')?", default=False)


def _interactive() -> bool:
    return bool(sys.stdin is not None and sys.stdin.isatty())
