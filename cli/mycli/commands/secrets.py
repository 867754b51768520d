"""`mycli admin secrets set | list | delete`: stored secrets (admin role). A value is read
from stdin or a prompt that does not echo, never from the command line, and never shown."""

from __future__ import annotations

import sys
from typing import Any

import click

from mycli import exitcodes
from mycli.client import api_path
from mycli.commands.common import pass_app
from mycli.errors import CliError
from mycli.main import AppContext
from mycli.output import ago, emit_json, emit_table, output_option

SECRET_COLUMNS = (
    ("NAME", "name"),
    ("DESCRIPTION", "description"),
    ("IMAGES", "images"),
    ("SET BY", "set_by"),
    ("SET", "set_ago"),
    ("VERSION", "version"),
)


@click.group()
def secrets() -> None:
    """Stored secrets: runs use them with `mycli exec --secret NAME` (admin role)."""


@secrets.command("set")
@click.argument("name")
@click.option("--description", default="", metavar="TEXT", help="What the secret is for.")
@click.option(
    "--image",
    "images",
    multiple=True,
    metavar="NAME",
    help="Only runs on this image may use it (repeatable; default: any run).",
)
@output_option
@pass_app
def set_secret(
    app: AppContext, name: str, description: str, images: tuple[str, ...], output: str
) -> None:
    """Create or replace secret NAME. The value is read from stdin when it is piped
    (`printf %s "$PASSWORD" | mycli admin secrets set db-password`; one trailing newline is
    dropped), otherwise asked for twice without echo. It is never taken from the command line."""
    check_secret_name(name, "NAME")
    client = app.client()
    require_admin(client.get("/me"))  # refused before the value is asked for
    value = read_value()
    body: dict[str, Any] = {"value": value, "description": description, "images": list(images)}
    secret = client.request("PUT", api_path("secrets", name), body=body)
    if output == "json":
        emit_json(secret)
    else:
        click.echo(f"mycli: set secret {secret['name']} (version {secret['version']})", err=True)


@secrets.command("list")
@output_option
@pass_app
def list_secrets(app: AppContext, output: str) -> None:
    """Show each secret's name, description, images, who set it and when; never values."""
    items = app.client().get("/secrets")["items"]
    if output == "json":
        emit_json(items)
        return
    rows = [{**secret, "set_ago": ago(secret.get("set_at"))} for secret in items]
    emit_table(rows, SECRET_COLUMNS, empty="no secrets")


@secrets.command("delete")
@click.argument("name")
@output_option
@pass_app
def delete_secret(app: AppContext, name: str, output: str) -> None:
    """Delete secret NAME (runs already started keep their copy)."""
    check_secret_name(name, "NAME")
    deleted = app.client().delete(api_path("secrets", name))
    if output == "json":
        emit_json(deleted)
    else:
        click.echo(f"deleted secret {name}")


def check_secret_name(name: str, hint: str) -> None:
    from orchestrator.domain.secrets import SECRET_NAME_RULE, is_valid_secret_name

    if not is_valid_secret_name(name):
        raise click.BadParameter(f"{name!r}: {SECRET_NAME_RULE}", param_hint=hint)


def require_admin(me: dict[str, Any]) -> None:
    """Refuse (exit 3) a caller without the admin role, as the server would."""
    if me.get("role") != "admin":
        raise CliError("this needs the admin role", exitcodes.AUTH)


def read_value() -> str:
    """The value: all of a piped stdin less one trailing newline, else a hidden prompt."""
    stdin = sys.stdin
    if stdin is None or interactive(stdin):
        value: str = click.prompt(
            "Value", hide_input=True, confirmation_prompt=True, prompt_suffix=": "
        )
    else:
        data = stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read().encode()
        try:
            value = data.decode("utf-8")
        except UnicodeDecodeError:
            raise CliError("the value on stdin is not UTF-8 text", exitcodes.USAGE) from None
        value = value.removesuffix("\n").removesuffix("\r")
    if not value:
        raise CliError("the value is empty", exitcodes.USAGE)
    if "\0" in value:
        raise CliError("the value must not contain NUL", exitcodes.USAGE)
    return value


def interactive(stdin: Any) -> bool:
    """Whether stdin is a terminal (prompt) rather than a pipe or a file (read it)."""
    return bool(stdin.isatty())


def parse_secret_refs(refs: tuple[str, ...], env: dict[str, Any]) -> dict[str, str]:
    """`--secret NAME` (variable NAME) and `--secret VAR=NAME` as {VAR: NAME}; exit 2 for
    a bad name, a variable given twice, or one also set with -e."""
    from orchestrator.domain.secrets import secret_reference, secret_reference_problem

    wanted: dict[str, str] = {}
    for ref in refs:
        problem = secret_reference_problem(ref, wanted, env, ("-e", "--secret"))
        if problem is not None:
            raise click.BadParameter(problem, param_hint="--secret")
        variable, name = secret_reference(ref)
        wanted[variable] = name
    return wanted
