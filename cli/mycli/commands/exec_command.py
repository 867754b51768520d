"""`mycli exec`: run a command on the platform, stream its output, exit with its code."""

from __future__ import annotations

import contextlib
import copy
import os
import signal
import stat
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import click

from mycli import exitcodes
from mycli.client import api_path
from mycli.commands.common import pass_app
from mycli.commands.exec_args import ExecCommand
from mycli.commands.exec_request import check_secret_count, git_fields, parse_env, request_body
from mycli.commands.remote_values import IMAGE_NAME
from mycli.durations import Duration
from mycli.errors import ApiError, CliError, ConnectionFailed, Interrupted, exec_exit_code
from mycli.follow import LogFollower, exit_code_of
from mycli.main import AppContext
from mycli.output import counted, emit_json, output_option
from mycli.streams import ChunkWriter, start_own_line

LOCK_RETRY_MAX_SECONDS = 2.0
STDIN_NOT_FORWARDED = "mycli: stdin is not forwarded (use -i)"
HANGUP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
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
    help="If the lock is held, wait up to this long for it instead of failing "
    "(seconds, or 90s, 5m, ...).",
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
            execution = start(app, body, wait_lock)
        except CliError as error:
            error.exit_code = exec_exit_code(error)
            raise
        execution_id = execution["execution_id"]
        if detach:
            if output == "json":
                emit_json({"execution_id": execution_id, "status": execution["status"]})
            else:
                click.echo(execution_id)
            click.echo(follow_hint(app, execution_id), err=True)
            return
        run_to_the_end(app, execution)


EXEC_EPILOG = (
    "Exit codes: the command's own; 124 timed out; 125 could not run (lock held, "
    "failed to start, server restarted, connection lost); 130 Ctrl-C; 143/129 SIGTERM/SIGHUP "
    "(the execution is cancelled); 2 bad input or over a limit; 3 key; 4 not found."
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


def follow_hint(app: AppContext, execution_id: str) -> str:
    """How to follow a detached run, as commands to paste (with the profile it runs on)."""
    import shlex

    base = ["mycli", *(["--profile", app.profile_name] if app.profile_name else [])]
    follow = shlex.join([*base, "logs", "-f", execution_id])
    status = shlex.join([*base, "status", execution_id])
    return f"mycli: follow it with: {follow}\nmycli: or check on it with: {status}"


def run_to_the_end(app: AppContext, execution: dict[str, Any]) -> None:
    """Follow a started execution and exit with what its end means."""
    execution_id = execution["execution_id"]
    if execution["status"] == "FAILED" and execution.get("exit_code") is None:
        raise CliError(
            f"execution {execution_id} failed: {execution.get('reason')}",
            exitcodes.EXEC_COULD_NOT_RUN,
        )
    click.echo(f"mycli: execution {execution_id} started", err=True)
    final = watch(app, execution_id)
    sys.exit(exit_code_of(final))


@contextlib.contextmanager
def cancel_on_hangup() -> Iterator[None]:
    """SIGTERM and SIGHUP (what CI systems send a cancelled job) raise Interrupted, which
    cancels the execution like Ctrl-C, or just exits while waiting for a lock."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(signum)

    previous = {signum: signal.signal(signum, interrupt) for signum in HANGUP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def warn_if_stdin_is_dropped() -> None:
    """Say once that piped or redirected stdin does not reach the command without -i."""
    try:
        fd = sys.stdin.fileno()
        if os.isatty(fd):
            return
        mode = os.fstat(fd).st_mode
    except (AttributeError, ValueError, OSError):
        return  # no real stdin (closed, or a test harness)
    if stat.S_ISFIFO(mode) or stat.S_ISREG(mode):
        click.echo(STDIN_NOT_FORWARDED, err=True)


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


def start(app: AppContext, body: dict[str, Any], wait_lock: float | None) -> dict[str, Any]:
    """POST the execution; on a held lock, retry until `wait_lock` seconds have passed.

    One idempotency key for this `mycli exec`, reused by every retry, so the server starts
    the command at most once."""
    client = app.client()
    key = uuid.uuid4().hex
    deadline = time.monotonic() + (wait_lock or 0)
    delay = 0.2
    announced = False
    while True:
        try:
            execution: dict[str, Any] = client.post("/executions", body, idempotency_key=key)
            return execution
        except ApiError as error:
            if error.code == "idempotency_key_reused":
                raise CliError(
                    f"the server refused to start the command: {error.message}",
                    exitcodes.USAGE,
                ) from error
            if error.code != "lock_held" or wait_lock is None or time.monotonic() >= deadline:
                if error.code == "lock_held" and wait_lock is None:
                    error.message += "; to wait for it: --wait-lock DURATION (e.g. 10m)"
                raise
            if not announced:
                click.echo(f"mycli: waiting up to {wait_lock:g}s: {error.message}", err=True)
                announced = True
        time.sleep(min(delay, max(deadline - time.monotonic(), 0.01)))
        delay = min(delay * 1.5, LOCK_RETRY_MAX_SECONDS)


def watch(app: AppContext, execution_id: str) -> dict[str, Any]:
    """Stream the logs until the end; the first Ctrl-C (or SIGTERM, SIGHUP) cancels, a second
    stops waiting. After a signal the exit code is 128 + its number (Interrupted)."""
    client = app.client()
    follower = LogFollower(client, execution_id, ChunkWriter())
    signalled: int | None = None
    try:
        while True:
            try:
                follower.run()
                break
            except (KeyboardInterrupt, Interrupted) as interrupt:
                signum = interrupt.signum if isinstance(interrupt, Interrupted) else signal.SIGINT
                if signalled is not None:
                    start_own_line()
                    click.echo("mycli: stopped waiting; the execution is being cancelled", err=True)
                    sys.exit(exitcodes.for_signal(signum))
                signalled = signum
                client.close()
                start_own_line()
                again = "Ctrl-C" if signum == signal.SIGINT else "signal"
                click.echo(
                    f"mycli: cancelling {execution_id} ({again} again to stop waiting)", err=True
                )
                client.post(api_path("executions", execution_id, "cancel"))
        final: dict[str, Any] = client.get(api_path("executions", execution_id), following=True)
    except (ConnectionFailed, ApiError) as error:
        # Still throttled (429) or failing (5xx) when the follow budget ran out: lost as well.
        if isinstance(error, ApiError) and error.status < 500 and error.status != 429:
            error.exit_code = exec_exit_code(error)
            raise
        raise CliError(
            f"lost the connection while following execution {execution_id} ({error.message}); "
            f"it may still be running: see `mycli logs -f {execution_id}`",
            exitcodes.EXEC_COULD_NOT_RUN,
        ) from error
    summary = final["status"]
    if final.get("reason"):
        summary += f": {final['reason']}"
    start_own_line()
    click.echo(f"mycli: execution {execution_id} {summary}", err=True)
    if signalled is not None and signalled != signal.SIGINT:
        raise Interrupted(signalled)
    return final
