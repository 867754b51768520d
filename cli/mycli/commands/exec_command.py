"""`mycli exec`: run a command on the platform, stream its output, exit with its code."""

from __future__ import annotations

import os
import re
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import click

from mycli import exitcodes
from mycli.commands.common import pass_app
from mycli.errors import ApiError, CliError
from mycli.follow import LogFollower, exit_code_of
from mycli.main import AppContext
from mycli.streams import ChunkWriter

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
LOCK_RETRY_MAX_SECONDS = 2.0


@click.command(
    "exec",
    context_settings={"allow_interspersed_args": False},
    epilog="Exit codes: the command's own; 124 timed out; 130 cancelled; "
    "125 could not run (lock held, bad key, network, failed to start).",
)
@click.option("--lock", metavar="NAME", help="Hold this named lock while the command runs.")
@click.option(
    "--env",
    "-e",
    "env_pairs",
    multiple=True,
    metavar="K=V",
    help="Set a variable (repeatable); `-e NAME` passes NAME's local value. "
    "Values are never stored.",
)
@click.option(
    "--timeout",
    type=click.IntRange(1, 86400),
    metavar="SECONDS",
    help="Stop the command after this long (server default 1800).",
)
@click.option(
    "--wait-lock",
    type=click.FloatRange(0, 86400),
    metavar="SECONDS",
    help="If the lock is held, wait up to this long for it instead of failing.",
)
@click.option(
    "--upload",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    metavar="DIR",
    help="Run in a copy of DIR (in a git work tree: what git would commit).",
)
@click.option("--detach", "-d", is_flag=True, help="Print the execution id and return at once.")
@click.argument("command", nargs=-1, required=True)
@pass_app
def exec_command(
    app: AppContext,
    lock: str | None,
    env_pairs: tuple[str, ...],
    timeout: int | None,
    wait_lock: float | None,
    upload: Path | None,
    detach: bool,
    command: tuple[str, ...],
) -> None:
    """Run COMMAND remotely, streaming its output to stdout.

    Put `--` before the command. One argument is run as a shell string
    (`mycli exec -- 'make test | tee log'`); several are quoted as an argument list
    (`mycli exec -- terraform apply -auto-approve`). Ctrl-C cancels the execution.
    """
    body: dict[str, Any] = {"command": command[0] if len(command) == 1 else shlex.join(command)}
    if lock:
        body["lock"] = lock
    if env_pairs:
        body["env"] = parse_env(env_pairs)
    if timeout:
        body["timeout_seconds"] = timeout
    try:
        if upload is not None:
            body["upload_id"] = upload_directory(app, upload)
        execution = start(app, body, wait_lock)
    except CliError as error:
        error.exit_code = exitcodes.EXEC_COULD_NOT_RUN
        raise
    execution_id = execution["execution_id"]
    if detach:
        click.echo(execution_id)
        return
    if execution["status"] == "FAILED" and execution.get("exit_code") is None:
        raise CliError(
            f"execution {execution_id} failed: {execution.get('reason')}",
            exitcodes.EXEC_COULD_NOT_RUN,
        )
    click.echo(f"mycli: execution {execution_id} started", err=True)
    final = watch(app, execution_id)
    sys.exit(exit_code_of(final))


def upload_directory(app: AppContext, directory: Path) -> str:
    """Pack DIR, check it fits, PUT it to a fresh slot; returns the upload id."""
    from mycli.uploads import human, pack, put

    archive = pack(directory)
    try:
        click.echo(
            f"mycli: packed {archive.files} files from {directory} ({human(archive.size)})",
            err=True,
        )
        slot = app.client().post("/uploads")
        if archive.size > slot["max_bytes"]:
            raise CliError(
                f"the archive is {human(archive.size)}, over the server's limit of "
                f"{human(slot['max_bytes'])}: leave out large files (.gitignore) and retry"
            )
        put(slot, archive)
    finally:
        archive.path.unlink(missing_ok=True)
    upload_id: str = slot["upload_id"]
    return upload_id


def parse_env(pairs: tuple[str, ...]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not ENV_NAME.match(name):
            raise click.BadParameter(f"invalid variable name {name!r}", param_hint="--env")
        if not separator:
            if name not in os.environ:
                raise click.BadParameter(f"{name} is not set locally", param_hint="--env")
            value = os.environ[name]
        env[name] = value
    return env


def start(app: AppContext, body: dict[str, Any], wait_lock: float | None) -> dict[str, Any]:
    """POST the execution; on a held lock, retry until `wait_lock` seconds have passed."""
    client = app.client()
    deadline = time.monotonic() + (wait_lock or 0)
    delay = 0.2
    announced = False
    while True:
        try:
            execution: dict[str, Any] = client.post("/executions", body)
            return execution
        except ApiError as error:
            if error.code != "lock_held" or wait_lock is None or time.monotonic() >= deadline:
                raise
            if not announced:
                click.echo(f"mycli: waiting up to {wait_lock:g}s: {error.message}", err=True)
                announced = True
        time.sleep(min(delay, max(deadline - time.monotonic(), 0.01)))
        delay = min(delay * 1.5, LOCK_RETRY_MAX_SECONDS)


def watch(app: AppContext, execution_id: str) -> dict[str, Any]:
    """Stream the logs until the end; the first Ctrl-C cancels, a second stops waiting."""
    client = app.client()
    follower = LogFollower(client, execution_id, ChunkWriter())
    cancelled = False
    while True:
        try:
            follower.run()
            break
        except KeyboardInterrupt:
            if cancelled:
                click.echo("mycli: stopped waiting; the execution is being cancelled", err=True)
                sys.exit(exitcodes.EXEC_CANCELLED)
            cancelled = True
            client.close()
            click.echo(f"mycli: cancelling {execution_id} (Ctrl-C again to stop waiting)", err=True)
            client.post(f"/executions/{execution_id}/cancel")
    final: dict[str, Any] = client.get(f"/executions/{execution_id}")
    summary = final["status"]
    if final.get("reason"):
        summary += f": {final['reason']}"
    click.echo(f"mycli: execution {execution_id} {summary}", err=True)
    return final
