"""Where a running twin keeps its state: the run directory (`--dir`, else
$XDG_RUNTIME_DIR/mycli-twin, else ~/.local/state/mycli-twin) holding `state.json` (the
daemon's pid and URLs, written once it serves), `twin.log`, `template.json`, the admin key
handed to `up` or `reset` (`admin-key`, mode 0600, removed once read) and the tasks'
directories."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

STATE_FILE = "state.json"
LOG_FILE = "twin.log"
TEMPLATE_FILE = "template.json"
ADMIN_KEY_FILE = "admin-key"
RESET_FAILED_FILE = "reset-failed"  # why the last `reset` failed (the daemon writes it)


def default_run_dir() -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "mycli-twin"
    return Path.home() / ".local" / "state" / "mycli-twin"


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` (mode 0600) atomically."""
    partial = path.with_name(path.name + ".part")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(text)
    partial.rename(path)


def read_state(run_dir: Path) -> dict[str, Any] | None:
    """The running twin's state, or None (a state whose process is gone is removed)."""
    path = run_dir / STATE_FILE
    try:
        state: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not alive(int(state.get("pid", 0))):
        path.unlink(missing_ok=True)
        return None
    return state


def alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):  # a zombie (our own child, not yet reaped) is gone
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[0] != "Z"
    return True


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def marked_processes(marker: str, value: str) -> list[int]:
    """Processes whose environment holds `marker=value` (the twin's containers)."""
    wanted = f"{marker}={value}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if wanted in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
    return found


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
