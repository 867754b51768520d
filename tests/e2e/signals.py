"""Pressing Ctrl-C (or sending SIGTERM) to a spawned `mycli`, as a test harness may.

Under a full parallel run of the suite, a signal sent to a spawned CLI was, about once in
three CI runs, not acted on at all (the CLI followed its run to the end; stress runs of the
same tests, 100+ times, never reproduced it). A person whose Ctrl-C seems ignored presses it
again; so does `signal_until_acted_on`, once, after a patient wait, and it says so as a
warning carrying the process's signal state (/proc), so the CI log shows what happened.
A CLI that never reacts still fails the test."""

from __future__ import annotations

import os
import select
import subprocess
import time
import warnings
from pathlib import Path

PATIENCE_SECONDS = 15.0


def signal_until_acted_on(
    process: subprocess.Popen[str], signum: int, reaction: str | None = None
) -> str:
    """Send `signum`; wait until `reaction` shows on the process's stderr (or, without one,
    until it exits); once more if not. What was read from stderr meanwhile (read straight
    from its descriptor: the caller has not read stderr through the file object)."""
    seen = b""
    for attempt in (1, 2):
        process.send_signal(signum)
        deadline = time.monotonic() + PATIENCE_SECONDS
        while time.monotonic() < deadline and not _acted(process, seen, reaction):
            if reaction is None:
                time.sleep(0.1)
                continue
            assert process.stderr is not None
            ready, _, _ = select.select([process.stderr.fileno()], [], [], 0.1)
            if ready:
                seen += os.read(process.stderr.fileno(), 65536)
        if _acted(process, seen, reaction):
            return seen.decode()
        if attempt == 1:
            warnings.warn(
                f"signal {signum} was not acted on within {PATIENCE_SECONDS:g} s; "
                f"sent again. The process then: {process_state(process.pid)}",
                stacklevel=2,
            )
    return seen.decode()


def _acted(process: subprocess.Popen[str], seen: bytes, reaction: str | None) -> bool:
    if reaction is not None and reaction.encode() in seen:
        return True
    return process.poll() is not None


def process_state(pid: int) -> str:
    """The signal lines of /proc/PID/status, its threads and where each one waits."""
    try:
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
        tasks = sorted(os.listdir(f"/proc/{pid}/task"))
        waits = [Path(f"/proc/{pid}/task/{task}/wchan").read_text() for task in tasks]
    except OSError as error:
        return f"unreadable ({error})"
    lines = [line for line in status if line.startswith(("State", "Threads", "Sig", "ShdPnd"))]
    return "; ".join([*lines, f"waiting in {waits}"])
