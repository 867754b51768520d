"""`mycli exec`: run a command on the platform, stream its output, exit with its code."""

from __future__ import annotations

import copy
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from mycli import exitcodes
from mycli.commands.common import pass_app
from mycli.commands.exec_args import ExecCommand
from mycli.commands.exec_request import check_secret_count, git_fields, parse_env, request_body
from mycli.commands.exec_run import (
    cancel_on_hangup,
    run_to_the_end,
    start,
    warn_if_stdin_is_dropped,
)
from mycli.commands.remote_values import IMAGE_NAME
from mycli.durations import Duration
from mycli.errors import CliError, exec_exit_code
from mycli.main import AppContext
from mycli.output import counted, emit_json, output_option

# What other commands use (`mycli run`); the request's checks live in exec_request.py.
__all__ = ["EXEC_EPILOG", "exec_command", "exec_options", "execute", "git_fields", "parse_env"]


# `mycli exec`'s options are declared on `execute`, the function that does its work, and
# added to `exec` and `run` by `exec_options`. New options go after the existing ones.
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
    type=Duration(1, 86400, whole=True),
    metavar="DURATION",
    help="Stop the command after this long: seconds, or 90s, 5m, 2h, 1h30m (server default 30m).",
)
@click.option(
    "--wait-lock",
    type=Duration(0, 86400),
    metavar="DURATION",
    help="If the lock is held, queue for it up to this long instead of failing (seconds, "
    "or 90s, 5m, 2h): the server starts the run when its turn comes; mycli shows its place.",
)
@click.option(
    "--upload",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    metavar="DIR",
    help="Run in a copy of DIR (in a git work tree: what git would commit).",
)
@click.option(
    "--stdin",
    "-i",
    "forward_stdin",
    is_flag=True,
    help="Send this process's stdin to the command (up to the server's upload limit).",
)
@click.option("--detach", "-d", is_flag=True, help="Print the execution id and return at once.")
@click.option(
    "--image",
    type=IMAGE_NAME,
    metavar="NAME",
    help="Run on this image (default: the default image).",
)
@click.option(
    "--cpu",
    type=click.IntRange(1),
    metavar="N",
    help="CPU units (1024 = 1 vCPU), within the image's limit.",
)
@click.option(
    "--memory",
    type=click.IntRange(1),
    metavar="MIB",
    help="Memory in MiB, within the image's limit.",
)
@click.option(
    "--git",
    "git_source",
    metavar="URL[#REF]",
    help="Run in a fresh checkout of REF (branch, tag or full commit id; default: the "
    "default branch) of this repository (a URL, or a path on the server's host such as "
    "/srv/repo or ./repo); the commit is recorded.",
)
@click.option("--git-subdir", metavar="PATH", help="With --git: run in PATH of the checkout.")
@click.option(
    "--git-secret",
    metavar="NAME",
    help="With --git: fetch with this stored secret (HTTPS token or SSH deploy key).",
)
@click.option(
    "--secret",
    "secret_refs",
    multiple=True,
    metavar="[VAR=]NAME",
    help="Give the command stored secret NAME as env var NAME, or as VAR (repeatable). "
    "Its value is masked as *** in the output.",
)
@output_option
def execute(
    app: AppContext,
    lock: str | None,
    env_pairs: tuple[str, ...],
    timeout: int | None,
    wait_lock: float | None,
    upload: Path | None,
    forward_stdin: bool,
    detach: bool,
    output: str,
    command: tuple[str, ...],
    playbook: str | None = None,
    image: str | None = None,
    cpu: int | None = None,
    memory: int | None = None,
    secret_refs: tuple[str, ...] = (),
    git_source: str | None = None,
    git_subdir: str | None = None,
    git_secret: str | None = None,
) -> None:
    """What `mycli exec` does (and `mycli run`, with a playbook's command and options):
    start the execution, stream its output and exit with its code, or print its id."""
    body = request_body(command, lock, env_pairs, timeout, wait_lock)
    if playbook is not None:
        body["playbook"] = playbook
    body |= {k: v for k, v in (("image", image), ("cpu", cpu), ("memory", memory)) if v}
    if secret_refs:
        from mycli.commands.secrets import parse_secret_refs

        body["secrets"] = parse_secret_refs(secret_refs, body.get("env", {}))
        check_secret_count(body["secrets"])
    body |= git_fields(git_source, git_subdir, git_secret, upload)
    if output == "json" and not detach:
        raise click.UsageError("--output json goes with --detach (stdout is the command's)")
    if not forward_stdin:
        warn_if_stdin_is_dropped()
    with cancel_on_hangup():
        try:
            if upload is not None:
                body["upload_id"] = upload_directory(app, upload)
            if forward_stdin:
                body["stdin_upload_id"] = upload_stdin(app)
            execution = start(app, body)
        except CliError as error:
            error.exit_code = exec_exit_code(error)
            raise
        execution_id = execution["execution_id"]
        if detach:
            if output == "json":
                emit_json({"execution_id": execution_id, "status": execution["status"]})
            else:
                click.echo(execution_id)
            if execution["status"] == "QUEUED":
                click.echo(queued_note(execution), err=True)
            click.echo(follow_hint(app, execution_id), err=True)
            return
        run_to_the_end(app, execution)


EXEC_EPILOG = (
    "Exit codes: the command's own; 124 timed out; 125 could not run (lock held, "
    "--wait-lock expired, failed to start, server restarted, connection lost); 130 Ctrl-C; "
    "143/129 SIGTERM/SIGHUP (the execution is cancelled, a queued one too); 2 bad input or "
    "over a limit; 3 key; 4 not found."
)
F = TypeVar("F", bound=Callable[..., Any])


def exec_options(function: F) -> F:
    """Gives a command the options of `mycli exec` (each a copy: commands share no state)."""
    declared: list[click.Parameter] = getattr(execute, "__click_params__", [])
    params = getattr(function, "__click_params__", [])
    function.__click_params__ = [*params, *(copy.copy(param) for param in declared)]  # type: ignore[attr-defined]
    return function


@click.command(
    "exec",
    cls=ExecCommand,
    context_settings={"allow_interspersed_args": False},
    epilog=EXEC_EPILOG,
)
@exec_options
@click.argument("command", nargs=-1, required=True)
@pass_app
def exec_command(app: AppContext, /, command: tuple[str, ...], **options: Any) -> None:
    """Run COMMAND remotely, streaming its output to stdout.

    Put `--` before the command: one of exec's own options after the command without
    `--` (`mycli exec terraform apply --lock prod`) is refused (exit 2), as it could be
    meant for either. One argument is run as a shell string
    (`mycli exec -- 'make test | tee log'`); several are quoted as an argument list
    (`mycli exec -- terraform apply -auto-approve`). Ctrl-C, SIGTERM and SIGHUP cancel the
    execution. `-i` forwards stdin (`cat migration.sql | mycli exec -i -- psql`).
    """
    execute(app, command=command, **options)


def queued_note(execution: dict[str, Any]) -> str:
    """What `--detach` says of a run that waits for its lock."""
    from mycli.lock_wait import ordinal, printable

    queue = execution.get("queue") or {}
    lock = printable(queue.get("lock_name") or execution.get("lock_name") or "?")
    position = queue.get("position")
    place = f", {ordinal(position)} in line" if isinstance(position, int) else ""
    return f"mycli: queued for '{lock}'{place}: it starts when its turn comes"


def follow_hint(app: AppContext, execution_id: str) -> str:
    """How to follow a detached run, as commands to paste (with the profile it runs on)."""
    import shlex

    base = ["mycli", *(["--profile", app.profile_name] if app.profile_name else [])]
    follow = shlex.join([*base, "logs", "-f", execution_id])
    status = shlex.join([*base, "status", execution_id])
    return f"mycli: follow it with: {follow}\nmycli: or check on it with: {status}"


def upload_stdin(app: AppContext) -> str:
    """Read stdin to the server's upload limit, PUT its raw bytes to a fresh slot; returns
    the upload id the command's stdin will come from."""
    from mycli.uploads import Archive, human, put

    slot = app.client().post("/uploads")
    limit = int(slot["max_bytes"])
    handle, name = tempfile.mkstemp(prefix="mycli-stdin-")
    path = Path(name)
    try:
        size = 0
        with os.fdopen(handle, "wb") as spool:
            source = sys.stdin.buffer
            while chunk := source.read(1024 * 1024):
                size += len(chunk)
                if size > limit:
                    raise CliError(
                        f"stdin is over the server's limit of {human(limit)} (-i forwards at "
                        "most that much); pass large data with --upload DIR instead",
                        exitcodes.USAGE,
                    )
                spool.write(chunk)
        put(slot, Archive(path, 0, size))
    finally:
        path.unlink(missing_ok=True)
    upload_id: str = slot["upload_id"]
    return upload_id


def upload_directory(app: AppContext, directory: Path) -> str:
    """Pack DIR, check it fits, PUT it to a fresh slot; returns the upload id."""
    from mycli.uploads import human, pack, put

    archive = pack(directory)
    try:
        click.echo(
            f"mycli: packed {counted(archive.files, 'file')} from {directory} "
            f"({human(archive.size)})",
            err=True,
        )
        slot = app.client().post("/uploads")
        if archive.size > slot["max_bytes"]:
            raise CliError(
                f"the archive is {human(archive.size)}, over the server's limit of "
                f"{human(slot['max_bytes'])}: leave out large files (.gitignore) and retry",
                exitcodes.USAGE,
            )
        put(slot, archive)
    finally:
        archive.path.unlink(missing_ok=True)
    upload_id: str = slot["upload_id"]
    return upload_id
