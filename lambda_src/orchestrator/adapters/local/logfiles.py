"""Execution logs as files, byte for byte.

`<id>.out` holds exactly the bytes the command wrote, stdout and stderr in arrival order.
`<id>.idx` is a small index of fixed-size entries (offset, timestamp in ms, stream), one each
time the stream changes or at least `INDEX_INTERVAL_MS` after the previous one, so the stored
size stays close to the output's. A last entry of kind `TRUNCATED` marks where storing stopped
because the log cap was reached. The cursor is the decimal byte offset into `<id>.out`."""

from __future__ import annotations

import bisect
import os
import struct
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from orchestrator.domain.cursors import parse_offset_cursor
from orchestrator.domain.errors import ValidationFailed
from orchestrator.domain.models import (
    MAX_LOG_WAIT_SECONDS,
    Execution,
    LogChunk,
    LogPage,
    LogStream,
    utc_iso,
)
from orchestrator.ports import Clock

INDEX_ENTRY = struct.Struct("<QqI")  # offset, timestamp (ms since the epoch), kind
INDEX_INTERVAL_MS = 500
STDOUT, STDERR, TRUNCATED = 1, 2, 3
_STREAMS = {STDOUT: LogStream.STDOUT, STDERR: LogStream.STDERR}
# How long an ended execution is remembered by the waiter (a follower's last long-poll).
ENDED_MEMORY_SECONDS = 60.0


def log_stream_name(execution_id: str) -> str:
    return f"{execution_id}.out"


def index_path(out_path: Path) -> Path:
    return out_path.with_suffix(".idx")


class LogFileWriter:
    """Appends one execution's output and keeps its index; stops storing at `max_bytes`."""

    def __init__(self, out_path: Path, max_bytes: int, clock: Clock | None = None) -> None:
        self._out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._index = os.open(index_path(out_path), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._max_bytes = max_bytes
        self._clock = clock
        self.size = os.fstat(self._out).st_size
        self.truncated_at: int | None = None
        self._last_kind = 0
        self._last_entry_ms = 0

    def write(self, kind: int, data: bytes) -> bool:
        """Store `data` from stream `kind` (STDOUT, STDERR). Returns True when this write
        reached the cap (the caller reports it once); past the cap, output is discarded."""
        if self.truncated_at is not None or not data:
            return False
        now = self._clock.now().timestamp() if self._clock else time.time()
        now_ms = int(now * 1000)
        room = self._max_bytes - self.size
        new_entry = kind != self._last_kind or now_ms - self._last_entry_ms >= INDEX_INTERVAL_MS
        if room > 0 and new_entry:
            # The entry goes first: a reader that sees the bytes also sees where they came from.
            os.write(self._index, INDEX_ENTRY.pack(self.size, now_ms, kind))
            self._last_kind = kind
            self._last_entry_ms = now_ms
        stored = memoryview(data)[:room]
        while stored:
            written = os.write(self._out, stored)
            stored = stored[written:]
            self.size += written
        if len(data) <= room:
            return False
        self.truncated_at = self.size
        os.write(self._index, INDEX_ENTRY.pack(self.size, now_ms, TRUNCATED))
        return True

    def close(self) -> None:
        os.close(self._out)
        os.close(self._index)


class LogFileReader:
    """Reads an execution's `.out` and `.idx`; pages are cut at `max_bytes`, anywhere."""

    def __init__(self, log_dir: Path) -> None:
        self._log_dir = log_dir

    def read(self, execution: Execution, cursor: str | None, max_bytes: int) -> LogPage:
        offset = parse_offset_cursor(cursor)
        path = self._log_dir / Path(execution.log_stream_name or "missing").name
        try:
            with path.open("rb") as out:
                # The size first: every index entry for bytes before it is already written.
                size = os.fstat(out.fileno()).st_size
                entries = _read_index(index_path(path))
                if offset > size:
                    raise ValidationFailed(
                        "invalid log cursor: past the end of the log", {"cursor": cursor}
                    )
                out.seek(offset)
                data = out.read(min(max_bytes, size - offset))
        except (FileNotFoundError, IsADirectoryError):
            # Not written yet, or pruned by the retention: nothing (more) to read.
            return LogPage(chunks=[], next_cursor=str(offset), at_end=True)
        end = offset + len(data)
        truncated_at = entries[-1][0] if entries and entries[-1][2] == TRUNCATED else None
        return LogPage(
            chunks=_chunks(data, offset, entries, path),
            next_cursor=str(end),
            at_end=end >= size,
            truncated_at=truncated_at,
        )


def _read_index(path: Path) -> list[tuple[int, int, int]]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    whole = len(raw) - len(raw) % INDEX_ENTRY.size
    return list(INDEX_ENTRY.iter_unpack(raw[:whole]))


def _chunks(
    data: bytes, offset: int, entries: list[tuple[int, int, int]], path: Path
) -> list[LogChunk]:
    """Cut `data` (starting at `offset`) where the index says the stream or time changes."""
    if not data:
        return []
    entries = [entry for entry in entries if entry[2] != TRUNCATED]
    starts = [entry[0] for entry in entries]
    first = max(bisect.bisect_right(starts, offset) - 1, 0)
    end = offset + len(data)
    chunks: list[LogChunk] = []
    position = offset
    for number in range(first, len(entries)):
        following = entries[number + 1][0] if number + 1 < len(entries) else end
        chunk_end = min(following, end)
        if chunk_end > position:
            kind, stamp_ms = entries[number][2], entries[number][1]
            chunks.append(_chunk(data, offset, position, chunk_end, kind, stamp_ms))
            position = chunk_end
        if position >= end:
            break
    if position < end:  # bytes without an index entry (an index lost in a crash)
        stamp = int(path.stat().st_mtime * 1000)
        chunks.append(_chunk(data, offset, position, end, STDOUT, stamp))
    return chunks


def _chunk(data: bytes, base: int, start: int, end: int, kind: int, stamp_ms: int) -> LogChunk:
    return LogChunk(
        offset=start,
        stream=_STREAMS.get(kind, LogStream.STDOUT),
        timestamp=utc_iso(datetime.fromtimestamp(stamp_ms / 1000, UTC)),
        data=data[start - base : end - base],
    )


class LocalLogWaiter:
    """Lets a logs request wait for output: the runner reports every write and each end."""

    def __init__(self, max_wait_seconds: float = MAX_LOG_WAIT_SECONDS) -> None:
        self.max_wait_seconds = max_wait_seconds
        self._changed = threading.Condition()
        self._sizes: dict[str, int] = {}
        self._ended: dict[str, float] = {}
        self._closing = False

    def release_all(self) -> None:
        """The server is stopping: answer every waiting request now, and wait no more."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()

    def grew(self, execution_id: str, size: int) -> None:
        with self._changed:
            self._sizes[execution_id] = size
            self._changed.notify_all()

    def ended(self, execution_id: str) -> None:
        now = time.monotonic()
        with self._changed:
            self._sizes.pop(execution_id, None)
            self._ended[execution_id] = now
            for old in [e for e, at in self._ended.items() if now - at > ENDED_MEMORY_SECONDS]:
                del self._ended[old]
            self._changed.notify_all()

    def wait(self, execution_id: str, cursor: str, timeout_seconds: float) -> None:
        offset = parse_offset_cursor(cursor)
        timeout = min(timeout_seconds, self.max_wait_seconds)
        if timeout <= 0:
            return
        with self._changed:
            self._changed.wait_for(
                lambda: (
                    self._closing
                    or self._sizes.get(execution_id, 0) > offset
                    or execution_id in self._ended
                ),
                timeout,
            )


def prune_logs(log_dir: Path, older_than: datetime) -> int:
    """Delete log files last written before `older_than`; returns how many logs went."""
    cutoff = older_than.timestamp()
    removed = 0
    for out in log_dir.glob("*.out"):
        try:
            if out.stat().st_mtime >= cutoff:
                continue
            out.unlink()
        except FileNotFoundError:
            continue
        index_path(out).unlink(missing_ok=True)
        removed += 1
    return removed
