"""Writing an execution's output as it arrives: the exact bytes, stdout chunks to stdout and
stderr chunks to stderr ("combined" ones, from AWS, to stdout), flushed at once, nothing added
or stripped (ANSI sequences stay whether or not the terminal is a terminal). mycli's own lines
on stderr start on a line of their own (`start_own_line`), never glued to the command's."""

from __future__ import annotations

import base64
import json
import os
import signal
import sys
from typing import IO, TYPE_CHECKING

from mycli.errors import Interrupted

if TYPE_CHECKING:
    from mycli.log_pages import Chunk


class _StderrLine:
    """Whether the command's last byte written to this process's stderr ended a line."""

    mid_line = False


_STDERR_LINE = _StderrLine()


def start_own_line() -> None:
    """Before mycli writes a line of its own on stderr: end the line the command's stderr
    left unfinished (`printf err >&2`), so `mycli: ...` is not glued to it. The command's
    bytes are never changed; stdout is never touched."""
    if _STDERR_LINE.mid_line:
        _STDERR_LINE.mid_line = False
        sys.stderr.write("\n")
        sys.stderr.flush()


class ChunkWriter:
    """Writes log chunks (as the API returns them) to the right binary stream."""

    def __init__(
        self,
        stdout: IO[bytes] | None = None,
        stderr: IO[bytes] | None = None,
        *,
        timestamps: bool = False,
    ) -> None:
        self._stdout = stdout if stdout is not None else sys.stdout.buffer
        self._stderr = stderr if stderr is not None else sys.stderr.buffer
        # Only this process's own stderr is shared with mycli's messages.
        self._tracks_stderr = stderr is None
        if self._tracks_stderr:
            _STDERR_LINE.mid_line = False
        self._timestamps = timestamps
        self._closed: set[int] = set()

    def __call__(self, chunk: Chunk) -> None:
        data = chunk.data
        if self._timestamps:
            data = f"{chunk.timestamp} ".encode() + data
        target = self._stderr if chunk.stream == "stderr" else self._stdout
        if id(target) in self._closed:
            return
        try:
            target.write(data)
            target.flush()
            if data and target is self._stderr and self._tracks_stderr:
                _STDERR_LINE.mid_line = data[-1:] != b"\n"
        except BrokenPipeError:
            # The reader went away (`mycli exec ... | head`): like SIGPIPE to a local command.
            # Later output is dropped, and the caller is told once, so `exec` cancels the run.
            self._closed.add(id(target))
            _discard_further_writes(target)
            raise Interrupted(signal.SIGPIPE) from None


def _discard_further_writes(stream: IO[bytes]) -> None:
    """Point a broken stream at /dev/null, so flushing it at exit cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


class JsonChunkWriter:
    """One JSON object per chunk on stdout: offset, stream, timestamp, data (base64)."""

    def __init__(self, stdout: IO[str] | None = None) -> None:
        self._stdout = stdout if stdout is not None else sys.stdout

    def __call__(self, chunk: Chunk) -> None:
        fields = {
            "offset": chunk.offset,
            "stream": chunk.stream,
            "timestamp": chunk.timestamp,
            "data": base64.b64encode(chunk.data).decode("ascii"),
        }
        self._stdout.write(json.dumps(fields) + "\n")
        self._stdout.flush()


def truncation_note(truncated_at: int) -> str:
    return f"mycli: log truncated at {truncated_at} bytes (the log cap)"
