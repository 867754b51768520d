"""The `mycli` command. `mycli --help` is answered from the COMMANDS table without importing
click or any subcommand, and `mycli exec` starts without click when its arguments are plain
(mycli/fast_exec.py): both within issue 20's start-up budget. Everything else goes to the
click group (mycli/cli_group.py), which imports a subcommand on first use."""

from __future__ import annotations

import os
import sys

from mycli.errors import ConfigError, MissingKey

# Not `from typing import ...`: typing (with re and collections) costs `mycli --help` ~10 ms.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# name -> (module, attribute, help): imported only when the subcommand is needed; the help's
# first sentence is what `mycli --help` lists (a test keeps it equal to the command's own).
COMMANDS: dict[str, tuple[str, str, str]] = {
    "configure": (
        "mycli.commands.configure",
        "configure",
        (
            "Save an API URL and key as a profile: the --profile name, else MYCLI_PROFILE, "
            "else `default`."
        ),
    ),
    "whoami": (
        "mycli.commands.whoami",
        "whoami",
        "Show the user behind the API key, and the server.",
    ),
    "exec": (
        "mycli.commands.exec_command",
        "exec_command",
        "Run COMMAND remotely, streaming its output to stdout.",
    ),
    "status": (
        "mycli.commands.executions",
        "status",
        "Show one execution: status, exit code, reason, who ran what and when.",
    ),
    "logs": (
        "mycli.commands.executions",
        "logs",
        (
            "Print an execution's output, byte for byte: its stdout on stdout, its stderr on "
            "stderr (json: one object per chunk with offset, stream, timestamp and base64 "
            "data)."
        ),
    ),
    "list": (
        "mycli.commands.executions",
        "list_executions",
        "List executions, newest first (admins see everyone's).",
    ),
    "cancel": (
        "mycli.commands.executions",
        "cancel",
        "Cancel an execution (nothing happens to one that has finished).",
    ),
    "quota": (
        "mycli.commands.quota",
        "quota",
        ("Show the running-execution limits and your running count (admins: everyone's too)."),
    ),
    "locks": (
        "mycli.commands.locks",
        "locks",
        "Named locks that keep two runs off the same resource.",
    ),
    "admin": (
        "mycli.commands.admin",
        "admin",
        "Manage users and their API keys, and stored secrets (admin role).",
    ),
    "images": (
        "mycli.commands.images",
        "images",
        "Images runs execute in (`mycli exec --image NAME`).",
    ),
    "local": (
        "mycli.commands.local",
        "local",
        "Run the platform on this machine, no AWS needed.",
    ),
    "console": (
        "mycli.commands.console",
        "console",
        "Open the web console (sign in there with your API key).",
    ),
    "init": (
        "mycli.commands.deploy",
        "init",
        "Deploy the platform to AWS and configure the `aws` profile.",
    ),
    "destroy": (
        "mycli.commands.deploy",
        "destroy",
        "Delete the AWS deployment (`cdk destroy`), stopping its running tasks first.",
    ),
    "completion": (
        "mycli.commands.completion",
        "completion",
        "Print the completion script for SHELL.",
    ),
    "doctor": (
        "mycli.commands.doctor",
        "doctor",
        ("Check the deployment: health, key, versions, and one real execution, phase by phase."),
    ),
    "playbooks": (
        "mycli.commands.playbooks",
        "playbooks",
        "The team's tasks in .mycli/playbooks/ (here or in a parent directory).",
    ),
    "run": (
        "mycli.commands.playbooks",
        "run",
        "Run the playbook NAME as `mycli exec` would run its command.",
    ),
    "profiles": (
        "mycli.commands.profiles",
        "profiles",
        "The saved profiles (`mycli configure` and `mycli local up` write them).",
    ),
    "migrate": (
        "mycli.commands.migrate",
        "migrate",
        (
            "Move users (their keys keep working), images, secrets and finished executions "
            "with their output from the embedded platform in --data-dir to the deployment of "
            "PROFILE."
        ),
    ),
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


DESCRIPTION = """Run commands on a shared execution platform.

Every run is recorded (who, what, when, exit code, logs) and named locks stop two
people from working on the same resource at once. Start with `mycli local up`, which
runs the whole platform on this machine and configures the `local` profile."""
HELP_OPTIONS = ("-h", "--help")


def main() -> None:
    args = sys.argv[1:]
    if len(args) == 1 and args[0] in HELP_OPTIONS:
        sys.stdout.write(help_page())
        return
    if args[:1] == ["exec"]:
        from mycli.fast_exec import run_plain_exec

        run_plain_exec(args[1:])  # returns only when the arguments need click
    from mycli.cli_group import cli

    cli(prog_name="mycli")


def help_page() -> str:
    """`mycli --help` as click renders it (tests/cli/test_fast_start.py compares the two)."""
    from mycli.help_text import render_group_help

    options = [
        ("-p, --profile NAME", PROFILE_HELP),
        ("--version", "Show the version and exit."),
        ("-h, --help", "Show this message and exit."),
    ]
    commands = [(name, entry[2]) for name, entry in sorted(COMMANDS.items())]
    return render_group_help("mycli", DESCRIPTION, options, commands)


def short_help(text: str, limit: int) -> str:
    from mycli.help_text import shortened

    return shortened(text, limit)


def __getattr__(name: str) -> Any:
    """`mycli.main.cli`, the click group, imported when asked for."""
    if name == "cli":
        from mycli.cli_group import cli

        return cli
    raise AttributeError(name)


__all__ = ["COMMANDS", "AppContext", "main"]
