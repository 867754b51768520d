"""The params of a playbook as a table: for `mycli playbooks show NAME` and for
`mycli run NAME --help`, which shows the named playbook's params above exec's options."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from mycli.errors import CliError
from mycli.output import table_lines
from mycli.playbooks.loader import find_playbook, load, shown
from mycli.playbooks.model import Param

PARAM_COLUMNS = (
    ("PARAM", "name"),
    ("TYPE", "type"),
    ("DEFAULT", "default"),
    ("DESCRIPTION", "description"),
)
NAMED_PLAYBOOK = "mycli.playbook_for_help"


def param_rows(params: dict[str, Param]) -> list[dict[str, Any]]:
    """One row per param: its name, what values it takes, its default, its description."""
    return [
        {
            "name": name,
            "type": param_type(param),
            "default": "(required)" if param.default is None else param.default,
            "description": param.description,
        }
        for name, param in params.items()
    ]


def param_type(param: Param) -> str:
    """'one of: dev, prod', 'matching [0-9]+' or 'text' (a value is always a string)."""
    if param.choices is not None:
        return f"one of: {', '.join(param.choices)}"
    if param.pattern is not None:
        return f"matching {param.pattern}"
    return "text"


def param_table(params: dict[str, Param]) -> list[str]:
    return table_lines(param_rows(params), PARAM_COLUMNS)


class RunCommand(click.Command):
    """`mycli run`: with --help after a playbook's name, its help shows that playbook's
    description and params too (read from the file, nothing sent)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if any(arg in ctx.help_option_names for arg in args):
            ctx.meta[NAMED_PLAYBOOK] = self._playbook_name(ctx, args)
        return super().parse_args(ctx, args)

    def _playbook_name(self, ctx: click.Context, args: list[str]) -> str | None:
        """The NAME among `args` (parsed without the help option, which would exit)."""
        probe = [arg for arg in args if arg not in ctx.help_option_names]
        try:
            values, _, _ = self.make_parser(ctx).parse_args(args=probe)
        except click.UsageError:
            return None
        name = values.get("name")
        return name if isinstance(name, str) else None

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_help_text(ctx, formatter)
        name = ctx.meta.get(NAMED_PLAYBOOK)
        if name is not None:
            formatter.write_paragraph()
            write_playbook(formatter, name)


def write_playbook(formatter: click.HelpFormatter, name: str) -> None:
    """The playbook's file, description and params table (or why it cannot be read)."""
    try:
        loaded = load(find_playbook(name, Path.cwd()))
    except CliError as error:
        formatter.write_text(f"Playbook {name}: {error.message}")
        return
    playbook = loaded.playbook
    formatter.write_text(f"Playbook {name} ({shown(loaded.path)}): {playbook.description}")
    formatter.write_paragraph()
    if not playbook.params:
        formatter.write_text("It takes no params.")
        return
    formatter.write_text("Its params (--param NAME=VALUE):")
    with formatter.indentation():
        for line in param_table(playbook.params):
            formatter.write(f"{' ' * formatter.current_indent}{line}\n")
