"""The `mycli` command. Subcommands are imported on first use so `mycli --help` stays fast."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from mycli import __version__, exitcodes
from mycli.errors import CliError, ConfigError, Interrupted, MissingKey

# name -> (module, attribute): imported only when the subcommand is needed.
COMMANDS = {
    "configure": ("mycli.commands.configure", "configure"),
    "whoami": ("mycli.commands.whoami", "whoami"),
    "exec": ("mycli.commands.exec_command", "exec_command"),
    "status": ("mycli.commands.executions", "status"),
    "logs": ("mycli.commands.executions", "logs"),
    "list": ("mycli.commands.executions", "list_executions"),
    "cancel": ("mycli.commands.executions", "cancel"),
    "quota": ("mycli.commands.quota", "quota"),
    "locks": ("mycli.commands.locks", "locks"),
    "admin": ("mycli.commands.admin", "admin"),
    "images": ("mycli.commands.images", "images"),
    "local": ("mycli.commands.local", "local"),
    "console": ("mycli.commands.console", "console"),
    "init": ("mycli.commands.deploy", "init"),
    "destroy": ("mycli.commands.deploy", "destroy"),
    "completion": ("mycli.commands.completion", "completion"),
    "doctor": ("mycli.commands.doctor", "doctor"),
    "playbooks": ("mycli.commands.playbooks", "playbooks"),
    "run": ("mycli.commands.playbooks", "run"),
    "profiles": ("mycli.commands.profiles", "profiles"),
    "migrate": ("mycli.commands.migrate", "migrate"),
}

PROFILE_HELP = "Config profile to use (default: MYCLI_PROFILE, then the current profile)."


class AppContext:
    """Shared by every subcommand: the chosen profile, and an API client made on demand."""

    def __init__(self, profile: str | None) -> None:
        self.profile_name = profile
        self._client: Any = None

    def client(self) -> Any:
        if self._client is None:
            from mycli.client import ApiClient
            from mycli.config import resolve_profile

            profile = resolve_profile(self.profile_name)
            if not profile.api_url:
                raise ConfigError(
                    f"no API URL for profile '{profile.name}': run `mycli local up` or "
                    "`mycli configure`, or set MYCLI_API_URL"
                )
            if not profile.api_key:
                raise MissingKey(
                    f"no API key for profile '{profile.name}': run `mycli configure` "
                    "or set MYCLI_API_KEY"
                )
            self._client = ApiClient(profile.api_url, profile.api_key)
            if os.environ.get("MYCLI_RETRY_SECONDS"):
                self._client.retry_seconds = self._client.follow_retry_seconds = _seconds(
                    os.environ["MYCLI_RETRY_SECONDS"]
                )
        return self._client


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 3600:
        raise ConfigError(f"MYCLI_RETRY_SECONDS must be 0-3600 seconds, not {value!r}")
    return seconds


class LazyGroup(click.Group):
    """Loads subcommands on demand and turns mycli errors into one line and an exit code."""

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self._lazy])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self._lazy:
            module, attribute = self._lazy[cmd_name]
            command: click.Command = getattr(importlib.import_module(module), attribute)
            accept_profile_option(command)
            return command
        return super().get_command(ctx, cmd_name)

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
)
@click.option("--profile", "-p", metavar="NAME", help=PROFILE_HELP)
@click.version_option(__version__, prog_name="mycli")
@click.pass_context
def cli(ctx: click.Context, profile: str | None) -> None:
    """Run commands on a shared execution platform.

    Every run is recorded (who, what, when, exit code, logs) and named locks stop two
    people from working on the same resource at once. Start with `mycli local up`, which
    runs the whole platform on this machine and configures the `local` profile.
    """
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


def main() -> None:
    cli(prog_name="mycli")


__all__ = ["AppContext", "cli", "exitcodes", "main"]
