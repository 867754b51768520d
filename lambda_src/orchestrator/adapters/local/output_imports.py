"""Imported output (`mycli migrate` onto an embedded server) as the runner's log files:
`<id>.out` with the exact bytes and `<id>.idx` with one entry per imported chunk, so the
LogFileReader serves the chunks as they were (stream, timestamp, offsets)."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

from orchestrator.adapters.local.logfiles import (
    INDEX_ENTRY,
    STDERR,
    STDOUT,
    TRUNCATED,
    _read_index,
    index_path,
    log_stream_name,
)
from orchestrator.domain.errors import Conflict, ValidationFailed
from orchestrator.domain.models import LogChunk, LogStream, parse_iso

_KINDS = {LogStream.STDOUT: STDOUT, LogStream.STDERR: STDERR}


class LocalOutputImports:
    def __init__(self, log_dir: Path) -> None:
        self._log_dir = log_dir
        self._lock = threading.Lock()

    def put_chunks(self, execution_id: str, chunks: Sequence[LogChunk]) -> int:
        out = self._path(execution_id)
        start = chunks[0].offset
        data = b"".join(chunk.data for chunk in chunks)
        end = start + len(data)
        with self._lock:
            size = _size(out)
            if start > size:
                raise _gap(start, size)
            overlap = min(end, size) - start
            if overlap > 0:
                with out.open("rb") as stored:
                    stored.seek(start)
                    if stored.read(overlap) != data[:overlap]:
                        raise Conflict(f"other output is stored at byte {start}")
            if end <= size:
                return size
            self._log_dir.mkdir(parents=True, exist_ok=True)
            out_fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            index_fd = os.open(index_path(out), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                for chunk in chunks:
                    chunk_end = chunk.offset + len(chunk.data)
                    if chunk_end <= size:
                        continue
                    begin = max(chunk.offset, size)
                    stamp_ms = int(parse_iso(chunk.timestamp).timestamp() * 1000)
                    # The entry first, as the runner's writer does.
                    os.write(index_fd, INDEX_ENTRY.pack(begin, stamp_ms, _KINDS[chunk.stream]))
                    _write_all(out_fd, chunk.data[begin - chunk.offset :])
                    size = chunk_end
            finally:
                os.close(out_fd)
                os.close(index_fd)
            return size

    def finish(self, execution_id: str, total: int, truncated_at: int | None) -> None:
        out = self._path(execution_id)
        with self._lock:
            size = _size(out)
            if size != total:
                raise ValidationFailed(
                    f"{size} output bytes are stored, not {total}: import the rest first",
                    {"stored": size},
                )
            entries = _read_index(index_path(out))
            marked = entries[-1][0] if entries and entries[-1][2] == TRUNCATED else None
            if marked == truncated_at:
                return
            if marked is not None or truncated_at is None:
                raise Conflict("the output was finished with another truncation")
            stamp_ms = int(out.stat().st_mtime * 1000)
            with index_path(out).open("ab") as index:
                index.write(INDEX_ENTRY.pack(truncated_at, stamp_ms, TRUNCATED))

    def _path(self, execution_id: str) -> Path:
        name = log_stream_name(execution_id)
        if Path(name).name != name or name.startswith("."):
            raise ValidationFailed("invalid execution id", {"execution_id": execution_id})
        return self._log_dir / name


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _gap(start: int, size: int) -> ValidationFailed:
    return ValidationFailed(
        f"the chunks start at byte {start} but only {size} bytes are stored",
        {"stored": size},
    )


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]
