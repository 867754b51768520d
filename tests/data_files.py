"""Reading every file under a data directory while the server may still be cleaning up.

A run's end is recorded before its working directory is removed, so a test that scans the
data directory right after a run ended can meet a file or directory that is being deleted:
what vanishes is skipped (it is going away), everything else is read."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path


def stored_files(root: Path) -> Iterator[tuple[Path, bytes]]:
    """Each regular file under `root` (links not followed) with its bytes."""
    for directory, _, names in os.walk(root):
        for name in names:
            path = Path(directory) / name
            if path.is_symlink():
                continue
            try:
                yield path, path.read_bytes()
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                continue  # removed (or replaced) while we looked: part of the cleanup


def stored_bytes(root: Path) -> bytes:
    """Every regular file's bytes under `root`, joined."""
    return b"".join(data for _, data in stored_files(root))


def wait_for_cleanup(data_dir: Path, timeout: float = 10.0) -> None:
    """Until no run's working directory is left under the data directory's `work/`."""
    work = data_dir / "work"
    deadline = time.monotonic() + timeout
    while work.is_dir() and any(work.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
