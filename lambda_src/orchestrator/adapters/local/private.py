"""Data at rest on one machine: the data directory is 0700 and every file in it 0600,
whatever the umask of the process that creates them."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

DIR_MODE = 0o700
FILE_MODE = 0o600
# Directories whose entries are the platform's own files; work/ holds users' code, whose
# modes (executable scripts) are kept: the 0700 directories around it keep others out.
OWN_SUBDIRS = ("logs", "uploads")


def private_dir(path: Path) -> None:
    """Create `path` (and missing parents) as 0700; an existing one is left as it is."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)


@contextmanager
def private_file(path: Path, mode: str = "a") -> Iterator[IO[Any]]:
    """`open(path, mode)`, creating the file 0600 when it does not exist."""
    flags = {"a": os.O_APPEND, "w": os.O_TRUNC, "ab": os.O_APPEND, "wb": os.O_TRUNC}[mode]
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | flags, FILE_MODE)
    with os.fdopen(descriptor, mode) as handle:
        yield handle


def create_private(path: Path) -> None:
    """Make sure `path` exists, created 0600 if it did not."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))


def secure_data_dir(data_dir: Path) -> None:
    """Create the data directory 0700, or tighten an existing one (and what the platform keeps
    in it) that others could read, with a one-line notice on stderr."""
    private_dir(data_dir)
    loosened = [path for path in _own_entries(data_dir) if _too_open(path)]
    for path in loosened:
        path.chmod(DIR_MODE if path.is_dir() else FILE_MODE)
    if loosened:
        entries = "1 entry" if len(loosened) == 1 else f"{len(loosened)} entries"
        print(
            f"mycli: tightened permissions in {data_dir} ({entries}) "
            "so that only you can read it (directories 0700, files 0600)",
            file=sys.stderr,
        )


def _own_entries(data_dir: Path) -> Iterator[Path]:
    yield data_dir
    for entry in data_dir.iterdir():
        if entry.is_symlink():
            continue
        yield entry
        if entry.is_dir() and entry.name in OWN_SUBDIRS:
            yield from (child for child in entry.iterdir() if not child.is_symlink())
        elif entry.is_dir() and entry.name == "work":
            yield from (child for child in entry.iterdir() if child.is_dir())


def _too_open(path: Path) -> bool:
    mode = path.lstat().st_mode
    wanted = DIR_MODE if stat.S_ISDIR(mode) else FILE_MODE
    return bool(stat.S_IMODE(mode) & ~wanted)
