"""What a mistyped subcommand might have meant: a close name, or where a name lives."""

from __future__ import annotations

import importlib
from collections.abc import Iterable

import click


def no_such_command(
    ctx: click.Context, name: str, known: Iterable[str], lazy: dict[str, tuple[str, str, str]]
) -> click.UsageError:
    """The error for `mycli NAME` when there is no such command: click's own "Did you mean"
    from the known names, or, for a name that is a subcommand of a group (`mycli secrets`),
    the full command. Imports the groups only here, on the error path."""
    error = click.exceptions.NoSuchCommand(name, possibilities=known, ctx=ctx)
    if error.possibilities:
        return error
    homes = [
        f"mycli {group} {name}" for group in sorted(lazy) if name in _subcommands(*lazy[group][:2])
    ]
    if homes:
        return click.exceptions.NoSuchCommand(
            name, f"No such command {name!r}. Did you mean `{'` or `'.join(homes)}`?", ctx=ctx
        )
    return error


def _subcommands(module: str, attribute: str) -> list[str]:
    command = getattr(importlib.import_module(module), attribute)
    return list(command.commands) if isinstance(command, click.Group) else []
