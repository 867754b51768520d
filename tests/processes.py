"""Looking for a run's processes from outside the runner: by the marker in their environment."""

from __future__ import annotations

import os
from pathlib import Path

EXECUTION_MARKER = "MYCLI_EXECUTION_ID"


def marked(execution_id: str) -> list[int]:
    """Live processes whose environment carries the run's marker (scanned in /proc)."""
    marker = f"{EXECUTION_MARKER}={execution_id}".encode()
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                environ = Path(f"/proc/{entry.name}/environ").read_bytes()
            except OSError:
                continue
            if marker in environ.split(b"\0"):
                found.append(int(entry.name))
    return found
