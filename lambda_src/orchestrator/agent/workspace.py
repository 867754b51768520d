"""The agent's side of the workspace volume (names in layout.py): the command's inputs,
the two output FIFOs, `go` or `abort`, and the command's `exit`. Every file the command
container waits for appears whole, by rename. Standard library only."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from orchestrator.agent.layout import (
    ABORT_FILE,
    COMMAND_FILE,
    CWD_FILE,
    ENV_DIR,
    EXIT_FILE,
    GO_FILE,
    SCRATCH_DIR,
    STARTED_FILE,
    STDERR_FIFO,
    STDIN_FILE,
    STDOUT_FIFO,
    WORK_DIR,
)
from orchestrator.unpack import remove_tree

ENV_NAME = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")
STREAM_FIFOS = {"stdout": STDOUT_FIFO, "stderr": STDERR_FIFO}


class InputsRefused(ValueError):
    """An input the command container could not be given as it is (a variable's name)."""


@dataclass
class Fifos:
    """The FIFOs' read ends (non-blocking, for the pump) and the agent's own write ends,
    which keep a reader from seeing the end of a stream before the command opened it."""

    reads: dict[str, int]
    keepers: list[int]

    def close_keepers(self) -> None:
        for fd in self.keepers:
            os.close(fd)
        self.keepers = []

    def close(self) -> None:
        self.close_keepers()
        for fd in self.reads.values():
            os.close(fd)
        self.reads = {}


class Workspace:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.work = root / WORK_DIR
        self.scratch = root / SCRATCH_DIR
        self.stdin = root / STDIN_FILE

    def prepare(self) -> None:
        """The workspace writable by all but sticky (the command container, whatever its
        user, writes `started` and `exit`; no one removes another's files), the work
        directory (the command's, so anyone may write in it) and the scratch (the agent's)."""
        os.chmod(self.root, 0o1777)
        self.work.mkdir(parents=True, exist_ok=True)
        os.chmod(self.work, 0o777)
        self.scratch.mkdir(mode=0o700, parents=True, exist_ok=True)

    def write_inputs(self, command: str, env: dict[str, str], subdir: str | None) -> None:
        """The command, its variables (one 0644 file each) and the directory it starts in."""
        for name in env:
            if not ENV_NAME.match(name):
                raise InputsRefused(f"env variable name {name[:60]!r} is not a shell name")
        _write(self.root / COMMAND_FILE, command.encode())
        env_dir = self.root / ENV_DIR
        env_dir.mkdir(mode=0o755, exist_ok=True)
        os.chmod(env_dir, 0o755)
        for name, value in env.items():
            _write(env_dir / name, value.encode(), 0o644)
        cwd = self.work / subdir if subdir else self.work
        _write(self.root / CWD_FILE, str(cwd).encode())

    def open_fifos(self) -> Fifos:
        """Make both FIFOs (0666: the command container may run as any user) and open them."""
        reads: dict[str, int] = {}
        keepers: list[int] = []
        try:
            for stream, name in STREAM_FIFOS.items():
                path = self.root / name
                if path.exists() or path.is_symlink():
                    path.unlink()
                os.mkfifo(path)
                os.chmod(path, 0o666)
                reads[stream] = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
                keepers.append(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            Fifos(reads, keepers).close()
            raise
        return Fifos(reads, keepers)

    def started(self) -> bool:
        """Whether the command container's entry holds both FIFOs open for writing."""
        return (self.root / STARTED_FILE).exists()

    def remove_env(self) -> None:
        """The command's variables, gone once it has ended (best effort)."""
        shutil.rmtree(self.root / ENV_DIR, ignore_errors=True)

    def go(self) -> None:
        """Let the command start; the agent's scratch (git's HOME, downloads) goes first, so
        nothing of the setup is left on the volume the command shares."""
        remove_tree(self.scratch)
        _write(self.root / GO_FILE, b"")

    def abort(self) -> None:
        """Tell the command container not to run (best effort: the agent is failing)."""
        with contextlib.suppress(OSError):
            _write(self.root / ABORT_FILE, b"")

    def exit_code(self) -> tuple[bool, int | None]:
        """(whether the command has ended, its exit code when `exit` holds a number)."""
        try:
            text = (self.root / EXIT_FILE).read_text(errors="replace").strip()
        except FileNotFoundError:
            return False, None
        return True, int(text) if text.isdigit() and len(text) <= 3 else None


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """`data` into `path`, appearing whole: written next to it, then renamed."""
    part = path.with_name(path.name + ".part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    try:
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    os.replace(part, path)
