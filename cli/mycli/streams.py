"""Writing an execution's output as it arrives: the exact bytes, stdout chunks to stdout and
stderr chunks to stderr ("combined" ones, from AWS, to stdout), flushed at once, nothing added
or stripped (ANSI sequences stay whether or not the terminal is a terminal)."""

from __future__ import annotations

import base64
import json
import sys
from typing import IO, Any


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
        self._timestamps = timestamps

    def __call__(self, chunk: dict[str, Any]) -> None:
        data = base64.b64decode(chunk["data"])
        if self._timestamps:
            data = f"{chunk['timestamp']} ".encode() + data
        target = self._stderr if chunk["stream"] == "stderr" else self._stdout
        target.write(data)
        target.flush()


class JsonChunkWriter:
    """One JSON object per chunk on stdout: offset, stream, timestamp, data (base64)."""

    def __init__(self, stdout: IO[str] | None = None) -> None:
        self._stdout = stdout if stdout is not None else sys.stdout

    def __call__(self, chunk: dict[str, Any]) -> None:
        fields = {name: chunk[name] for name in ("offset", "stream", "timestamp", "data")}
        self._stdout.write(json.dumps(fields) + "\n")
        self._stdout.flush()


def truncation_note(truncated_at: int) -> str:
    return f"mycli: log truncated at {truncated_at} bytes (the log cap)"
