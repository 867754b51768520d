"""The click group behind `mycli`: subcommands imported on first use (mycli.main.COMMANDS),
mycli errors as one line and an exit code, `--profile` in any position."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from mycli import __version__, exitcodes
from mycli.errors import CliError, Interrupted
from mycli.main import COMMANDS, DESCRIPTION, PROFILE_HELP, AppContext


class LazyGroup(click.Group):
    """Loads subcommands on demand and turns mycli errors into one line and an exit code."""

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self._lazy])

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands and their short help from the table, without importing them."""
        from mycli.main import short_help

        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        with formatter.section("Commands"):
            formatter.write_dl([(name, short_help(self._lazy[name][2], limit)) for name in names])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self._lazy:
            module, attribute, _ = self._lazy[cmd_name]
            command: click.Command = getattr(importlib.import_module(module), attribute)
            accept_profile_option(command)
            return command
        return super().get_command(ctx, cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.NoSuchCommand as error:
            from mycli.suggest import no_such_command

            known = self.list_commands(ctx)
            raise no_such_command(ctx, error.command_name, known, self._lazy) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CliError as error:
            from mycli.streams import start_own_line

            start_own_line()
            click.echo(f"mycli: error: {error.message}", err=True)
            sys.exit(error.exit_code)
        except KeyboardInterrupt:
            # Ctrl-C is the user's own choice: no "Aborted!", the shell's 128 + SIGINT.
            sys.exit(exitcodes.EXEC_CANCELLED)
        except Interrupted as interrupted:
            sys.exit(exitcodes.for_signal(interrupted.signum))


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
    help=DESCRIPTION,
)
@click.option("--profile", "-p", metavar="NAME", help=PROFILE_HELP)
@click.version_option(__version__, prog_name="mycli")
@click.pass_context
def cli(ctx: click.Context, profile: str | None) -> None:
    ctx.obj = AppContext(profile)


def _set_profile(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    app = ctx.find_object(AppContext)
    if value is not None and app is not None:
        app.profile_name = value


def accept_profile_option(command: click.Command) -> None:
    """Let `--profile NAME` follow the subcommand too (`mycli list --profile twin`): the same
    option on the command and, for a group, on each of its subcommands. A later one wins.
    `mycli exec` stops parsing options at its command, so a `--profile` there stays the
    command's."""
    if any("--profile" in param.opts for param in command.params):
        return
    taken = {opt for param in command.params for opt in param.opts}
    names = ["--profile"] if "-p" in taken else ["--profile", "-p"]
    command.params.append(
        click.Option(
            names, metavar="NAME", expose_value=False, callback=_set_profile, help=PROFILE_HELP
        )
    )
    if isinstance(command, click.Group):
        for subcommand in command.commands.values():
            accept_profile_option(subcommand)
