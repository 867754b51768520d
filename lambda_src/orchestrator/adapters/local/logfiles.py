"""Execution logs as files: one per execution, a line per event: `<timestamp> <message>`."""

from __future__ import annotations

import os
from pathlib import Path

from orchestrator.domain.errors import ValidationFailed
from orchestrator.domain.models import Execution, LogEvent, LogPage

TIMESTAMP_WIDTH = len("2026-01-01T00:00:00.000Z")
MAX_PAGE_BYTES = 1024 * 1024


def log_stream_name(execution_id: str) -> str:
    return f"{execution_id}.log"


class LogFileReader:
    """Reads an execution's log file; the cursor is the byte offset after the last event."""

    def __init__(self, log_dir: Path) -> None:
        self._log_dir = log_dir

    def read(self, execution: Execution, cursor: str | None, limit: int) -> LogPage:
        offset = _offset(cursor)
        path = self._log_dir / Path(execution.log_stream_name or "").name
        try:
            with path.open("rb") as log:
                log.seek(offset)
                chunk = log.read(MAX_PAGE_BYTES)
        except FileNotFoundError:
            return LogPage(events=[], next_cursor=str(offset))
        events: list[LogEvent] = []
        consumed = 0
        # Only whole lines: the writer may be half-way through the last one.
        for line in chunk.splitlines(keepends=True):
            if len(events) >= limit or not line.endswith(b"\n"):
                break
            consumed += len(line)
            text = line[:-1].decode("utf-8", errors="replace")
            events.append(
                LogEvent(timestamp=text[:TIMESTAMP_WIDTH], message=text[TIMESTAMP_WIDTH + 1 :])
            )
        return LogPage(events=events, next_cursor=str(offset + consumed))


class LogFileWriter:
    """Appends events to one execution's log file, each with a single write."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def write(self, timestamp: str, message: bytes) -> None:
        clean = message.replace(b"\n", b" ")
        os.write(self._fd, timestamp.encode() + b" " + clean + b"\n")

    def close(self) -> None:
        os.close(self._fd)


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    if not cursor.isdigit():
        raise ValidationFailed("invalid log cursor", {"cursor": cursor})
    return int(cursor)
