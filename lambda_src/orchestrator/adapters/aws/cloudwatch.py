"""Execution logs from CloudWatch Logs (the awslogs driver's stream of each task).

The awslogs driver turns output into UTF-8 events, one per line, and does not say which
stream a line came from: every chunk is "combined", and each event's bytes are its message
plus "\\n". Byte offsets count those bytes. The cursor is opaque: the CloudWatch token a page
started from, how many bytes of that token's events were already delivered, and the offset.
A page can therefore end in the middle of an event and the next one resumes exactly there."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from orchestrator.adapters.aws.clients import error_code
from orchestrator.domain.cursors import decode_cursor, encode_cursor
from orchestrator.domain.errors import ValidationFailed
from orchestrator.domain.models import (
    DEFAULT_MAX_LOG_BYTES,
    Execution,
    LogChunk,
    LogPage,
    LogStream,
    utc_iso,
)

# get_log_events can answer an empty page with a new token while events remain further on.
MAX_CALLS_PER_PAGE = 10
# Events that arrive within this many ms of a chunk's first one join that chunk.
CHUNK_SPAN_MS = 500


@dataclass
class _Position:
    token: str | None  # where the events being delivered start (None: the stream's head)
    skip: int  # bytes of those events already delivered
    offset: int  # byte offset of the next byte to deliver

    def encode(self) -> str:
        return encode_cursor({"t": self.token, "s": self.skip, "o": self.offset})


def _decode(cursor: str | None) -> _Position:
    if not cursor:
        return _Position(None, 0, 0)
    position = decode_cursor(cursor, ("t", "s", "o"))
    token, skip, offset = position["t"], position["s"], position["o"]
    if (
        not (token is None or isinstance(token, str))
        or not all(type(n) is int and 0 <= n < 2**63 for n in (skip, offset))
        or skip > offset
    ):
        raise ValidationFailed("invalid log cursor", {"cursor": cursor})
    return _Position(token, skip, offset)


class CloudWatchLogReader:
    def __init__(
        self, logs: Any, log_group: str, max_log_bytes: int = DEFAULT_MAX_LOG_BYTES
    ) -> None:
        self._logs = logs
        self._log_group = log_group
        self._max_log_bytes = max_log_bytes

    def read(self, execution: Execution, cursor: str | None, max_bytes: int) -> LogPage:
        """At most `max_bytes` after the cursor. At the end of the stream CloudWatch hands
        back the token it was given: the page is empty and the cursor stays put, so a
        follower polls the same place until new lines arrive. Past the log cap nothing more
        is delivered and the page says where the log was truncated."""
        position = _decode(cursor)
        builder = _ChunkBuilder()
        truncated_at: int | None = None
        at_end = False
        for _ in range(MAX_CALLS_PER_PAGE):
            if builder.size >= max_bytes:
                break
            budget = min(max_bytes - builder.size, self._max_log_bytes - position.offset)
            response = self._get(execution, position.token, cursor)
            if response is None:  # the stream does not exist yet
                return LogPage(chunks=[], next_cursor=position.encode(), at_end=True)
            skipped = 0
            consumed_all = True
            for event in response.get("events", []):
                data = event["message"].encode("utf-8") + b"\n"
                if skipped + len(data) <= position.skip:
                    skipped += len(data)
                    continue
                data = data[position.skip - skipped :]
                skipped = position.skip
                if budget <= 0:
                    consumed_all = False
                    break
                piece = data[:budget]
                builder.add(position.offset, event["timestamp"], piece)
                position.offset += len(piece)
                position.skip += len(piece)
                skipped += len(piece)
                budget -= len(piece)
                if len(piece) < len(data):
                    consumed_all = False
                    break
            if not consumed_all:
                if position.offset >= self._max_log_bytes:
                    truncated_at = self._max_log_bytes
                    at_end = True
                break
            next_token: str = response["nextForwardToken"]
            if next_token == position.token:
                at_end = True
                break
            position = _Position(next_token, 0, position.offset)
        return LogPage(
            chunks=builder.finish(),
            next_cursor=position.encode(),
            at_end=at_end,
            truncated_at=truncated_at,
        )

    def _get(
        self, execution: Execution, token: str | None, cursor: str | None
    ) -> dict[str, Any] | None:
        request: dict[str, Any] = {
            "logGroupName": self._log_group,
            "logStreamName": execution.log_stream_name,
            "startFromHead": True,
        }
        if token:
            request["nextToken"] = token
        try:
            response: dict[str, Any] = self._logs.get_log_events(**request)
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                return None
            if error_code(error) == "InvalidParameterException" and cursor:
                raise ValidationFailed("invalid log cursor", {"cursor": cursor}) from error
            raise
        return response


class _ChunkBuilder:
    """Joins consecutive events into chunks (one per CHUNK_SPAN_MS), keeping their bytes."""

    def __init__(self) -> None:
        self.chunks: list[LogChunk] = []
        self.size = 0
        self._parts: list[bytes] = []
        self._start = 0
        self._stamp_ms = 0

    def add(self, offset: int, stamp_ms: int, data: bytes) -> None:
        if self._parts and stamp_ms - self._stamp_ms >= CHUNK_SPAN_MS:
            self._close()
        if not self._parts:
            self._start, self._stamp_ms = offset, stamp_ms
        self._parts.append(data)
        self.size += len(data)

    def finish(self) -> list[LogChunk]:
        self._close()
        return self.chunks

    def _close(self) -> None:
        if self._parts:
            self.chunks.append(
                LogChunk(
                    offset=self._start,
                    stream=LogStream.COMBINED,
                    timestamp=utc_iso(datetime.fromtimestamp(self._stamp_ms / 1000, UTC)),
                    data=b"".join(self._parts),
                )
            )
            self._parts = []
