"""What `mycli exec` does once its arguments are parsed: start the execution, wait while it is
QUEUED for its lock (mycli/lock_wait.py), follow its output, cancel it on Ctrl-C, SIGTERM or
SIGHUP, and exit with its code. No click here: the plain `mycli exec` (mycli/fast_exec.py)
runs without it."""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import sys
from collections.abc import Iterator
from types import FrameType
from typing import Any

from mycli import exitcodes
from mycli.client import api_path
from mycli.errors import ApiError, CliError, ConnectionFailed, Interrupted, exec_exit_code
from mycli.follow import TERMINAL, LogFollower, exit_code_of
from mycli.main import AppContext
from mycli.streams import ChunkWriter, start_own_line

STDIN_NOT_FORWARDED = "mycli: stdin is not forwarded (use -i)"
HANGUP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def idempotency_key() -> str:
    """A fresh key for one `mycli exec`: 32 random hex digits, as uuid4().hex was, without
    importing uuid (and with it platform)."""
    return os.urandom(16).hex()


def say(message: str) -> None:
    """One line on stderr, as click.echo(err=True) writes it."""
    print(message, file=sys.stderr, flush=True)


def run_to_the_end(app: AppContext, execution: dict[str, Any]) -> None:
    """Follow a started (or queued) execution and exit with what its end means."""
    execution_id = execution["execution_id"]
    if execution["status"] == "QUEUED":
        execution = wait_for_turn(app, execution)
        if execution["status"] in TERMINAL and not execution.get("dequeued_at"):
            ended_in_queue(execution)
    if execution["status"] == "FAILED" and execution.get("exit_code") is None:
        raise CliError(
            f"execution {execution_id} failed: {execution.get('reason')}",
            exitcodes.EXEC_COULD_NOT_RUN,
        )
    say(f"mycli: execution {execution_id} started")
    final = watch(app, execution_id)
    sys.exit(exit_code_of(final))


def wait_for_turn(app: AppContext, execution: dict[str, Any]) -> dict[str, Any]:
    """Show the queued run's place until it leaves the queue. Ctrl-C or SIGTERM/SIGHUP
    cancels it (which takes it out of the queue) and exits 130 or 128 + the signal."""
    from mycli.lock_wait import StatusLine, wait_in_queue

    client = app.client()
    execution_id = execution["execution_id"]
    line = StatusLine()
    try:
        return wait_in_queue(client, execution, line)
    except (KeyboardInterrupt, Interrupted) as interrupt:
        line.end()
        client.close()
        try:
            client.post(api_path("executions", execution_id, "cancel"))
            say(f"mycli: cancelled {execution_id}; it left the queue")
        except CliError as error:
            say(
                f"mycli: could not cancel {execution_id} ({error.message}); "
                f"it may still be queued: mycli cancel {execution_id}"
            )
        if isinstance(interrupt, Interrupted):
            raise
        sys.exit(exitcodes.EXEC_CANCELLED)
    except (ConnectionFailed, ApiError) as error:
        raise CliError(
            f"lost the connection while execution {execution_id} waited for its lock "
            f"({error.message}); it may still be queued: see `mycli status {execution_id}`",
            exitcodes.EXEC_COULD_NOT_RUN,
        ) from error
    finally:
        line.end()


def ended_in_queue(execution: dict[str, Any]) -> None:
    """A run that ended without leaving the queue: its wait expired (FAILED, exit 125, the
    reason says so) or someone cancelled it (130)."""
    execution_id = execution["execution_id"]
    summary = execution["status"]
    if execution.get("reason"):
        summary += f": {execution['reason']}"
    code = exit_code_of(execution)
    if execution["status"] == "FAILED":
        raise CliError(f"execution {execution_id} {summary}", code)
    say(f"mycli: execution {execution_id} {summary}")
    sys.exit(code)


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
        say(STDIN_NOT_FORWARDED)


def start(app: AppContext, body: dict[str, Any]) -> dict[str, Any]:
    """POST the execution (with `wait_lock_seconds`, a held lock queues it: QUEUED).

    One idempotency key for this `mycli exec`, reused by the client's retries, so the server
    starts the command at most once."""
    try:
        execution: dict[str, Any] = app.client().post(
            "/executions", body, idempotency_key=idempotency_key()
        )
    except ApiError as error:
        if error.code == "idempotency_key_reused":
            raise CliError(
                f"the server refused to start the command: {error.message}",
                exitcodes.USAGE,
            ) from error
        if error.code == "lock_held" and "wait_lock_seconds" not in body:
            error.message += "; to wait for it: --wait-lock DURATION (e.g. 10m)"
        raise
    return execution


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
                    say("mycli: stopped waiting; the execution is being cancelled")
                    sys.exit(exitcodes.for_signal(signum))
                signalled = signum
                client.close()
                start_own_line()
                again = "Ctrl-C" if signum == signal.SIGINT else "signal"
                say(f"mycli: cancelling {execution_id} ({again} again to stop waiting)")
                client.post(api_path("executions", execution_id, "cancel"))
        # The completing page says how it ended; an older server's does not: ask for it.
        final: dict[str, Any] = follower.ending or client.get(
            api_path("executions", execution_id), following=True
        )
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
    say(f"mycli: execution {execution_id} {summary}")
    if signalled is not None and signalled != signal.SIGINT:
        raise Interrupted(signalled)
    return final
