"""The AWS output store's format, shared by the run agent (writer) and the logs route (reader).

A run's output is a sequence of S3 objects under `runs/<execution_id>/output/`:

- segments, each named by the byte offset where it ENDS, zero-padded to 16 digits, so that
  listing with StartAfter=<cursor, padded> starts at the very segment holding the cursor;
- `end`, written once nothing more will be stored: JSON `{"v": 1, "total": N,
  "truncated_at": N or null}` ("end" sorts after every digit, so it is listed last).

A segment is one line of JSON, then the raw bytes: `{"v": 1, "offset": START, "chunks":
[[stream, timestamp, length], ...]}` + b"\\n" + bytes. Each chunk is one stream's bytes,
exactly as written (`stdout` or `stderr`, a UTC ISO-8601 timestamp with milliseconds, the
length); chunk offsets follow from START. Segments are contiguous: each starts where the one
before ended. Standard library only: this runs inside the agent's container too."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeGuard

FORMAT_VERSION = 1
STREAMS = ("stdout", "stderr")
MAX_SEGMENT_BYTES = 1024 * 1024  # output bytes in one segment
MAX_CHUNKS_PER_SEGMENT = 4096
MAX_HEADER_BYTES = 256 * 1024  # a full chunk list takes about 4096 * 40 bytes
MAX_OBJECT_BYTES = MAX_HEADER_BYTES + 1 + MAX_SEGMENT_BYTES  # what the POST policy allows
MAX_END_MARKER_BYTES = 1024
OFFSET_DIGITS = 16
MAX_OFFSET = 10**OFFSET_DIGITS - 1
END_NAME = "end"
_TIMESTAMP = re.compile(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\Z")
_SEGMENT_NAME = re.compile(r"\A[0-9]{16}\Z")


class SegmentInvalid(ValueError):
    """An object under a run's output prefix that this format does not describe."""


@dataclass(frozen=True)
class SegmentChunk:
    """One stream's bytes, from byte `offset` of the run's output."""

    offset: int
    stream: str
    timestamp: str
    data: bytes


@dataclass(frozen=True)
class Segment:
    offset: int
    chunks: tuple[SegmentChunk, ...]

    @property
    def end(self) -> int:
        return self.offset + sum(len(chunk.data) for chunk in self.chunks)


@dataclass(frozen=True)
class EndMarker:
    total: int
    truncated_at: int | None


def output_prefix(execution_id: str) -> str:
    return f"runs/{execution_id}/output/"


def segment_name(end: int) -> str:
    """A segment's name under the prefix: where it ends, zero-padded."""
    if not 0 <= end <= MAX_OFFSET:
        raise ValueError(f"offset out of range: {end}")
    return f"{end:0{OFFSET_DIGITS}d}"


def segment_key(execution_id: str, end: int) -> str:
    return output_prefix(execution_id) + segment_name(end)


def end_key(execution_id: str) -> str:
    return output_prefix(execution_id) + END_NAME


def parse_segment_name(name: str) -> int | None:
    """The end offset a segment's name stands for; None for any other name."""
    return int(name) if _SEGMENT_NAME.match(name) else None


def timestamp_of(seconds: float) -> str:
    """Seconds since the epoch as UTC ISO-8601 with milliseconds and a Z."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def encode_segment(segment: Segment) -> bytes:
    _check_segment(segment)
    header = {
        "v": FORMAT_VERSION,
        "offset": segment.offset,
        "chunks": [[c.stream, c.timestamp, len(c.data)] for c in segment.chunks],
    }
    head = json.dumps(header, separators=(",", ":")).encode()
    return head + b"\n" + b"".join(chunk.data for chunk in segment.chunks)


def decode_segment(body: bytes) -> Segment:
    """The segment `body` holds; SegmentInvalid for anything else (never another error)."""
    newline = body.find(b"\n", 0, MAX_HEADER_BYTES + 1)
    if newline < 0:
        raise SegmentInvalid("no header line within the header limit")
    header = _json_object(body[:newline], "header")
    if set(header) != {"v", "offset", "chunks"} or not _is_version(header["v"]):
        raise SegmentInvalid("unknown header fields or version")
    offset, listed = header["offset"], header["chunks"]
    if not _is_offset(offset):
        raise SegmentInvalid("offset is not a byte offset")
    if not isinstance(listed, list) or not 1 <= len(listed) <= MAX_CHUNKS_PER_SEGMENT:
        raise SegmentInvalid("chunks must be a non-empty list within the limit")
    data = body[newline + 1 :]
    chunks: list[SegmentChunk] = []
    position = 0
    for entry in listed:
        if not (isinstance(entry, list) and len(entry) == 3):
            raise SegmentInvalid("a chunk is not [stream, timestamp, length]")
        stream, stamp, length = entry
        if stream not in STREAMS or not (isinstance(stamp, str) and _TIMESTAMP.match(stamp)):
            raise SegmentInvalid("a chunk's stream or timestamp is not valid")
        if not (type(length) is int and 1 <= length <= len(data) - position):
            raise SegmentInvalid("a chunk's length does not fit the segment's bytes")
        chunks.append(
            SegmentChunk(offset + position, stream, stamp, data[position : position + length])
        )
        position += length
    if position != len(data) or len(data) > MAX_SEGMENT_BYTES or offset + position > MAX_OFFSET:
        raise SegmentInvalid("the chunks do not account for the segment's bytes")
    return Segment(offset, tuple(chunks))


def encode_end(marker: EndMarker) -> bytes:
    if not _is_offset(marker.total) or marker.truncated_at not in (None, marker.total):
        raise ValueError("an end marker's truncated_at is null or its total")
    body = {"v": FORMAT_VERSION, "total": marker.total, "truncated_at": marker.truncated_at}
    return json.dumps(body, separators=(",", ":")).encode()


def decode_end(body: bytes) -> EndMarker:
    """The end marker `body` holds; SegmentInvalid for anything else."""
    if len(body) > MAX_END_MARKER_BYTES:
        raise SegmentInvalid("end marker too large")
    marker = _json_object(body, "end marker")
    if set(marker) != {"v", "total", "truncated_at"} or not _is_version(marker["v"]):
        raise SegmentInvalid("unknown end marker fields or version")
    total, truncated_at = marker["total"], marker["truncated_at"]
    if not _is_offset(total) or not (truncated_at is None or truncated_at == total):
        raise SegmentInvalid("end marker total or truncated_at is not valid")
    return EndMarker(total, None if truncated_at is None else total)


def _check_segment(segment: Segment) -> None:
    size = sum(len(chunk.data) for chunk in segment.chunks)
    position = segment.offset
    for chunk in segment.chunks:
        if chunk.offset != position or chunk.stream not in STREAMS or not chunk.data:
            raise ValueError("chunks must be contiguous, non-empty, stdout or stderr")
        if not _TIMESTAMP.match(chunk.timestamp):
            raise ValueError(f"not a UTC timestamp with milliseconds: {chunk.timestamp!r}")
        position += len(chunk.data)
    if not (1 <= len(segment.chunks) <= MAX_CHUNKS_PER_SEGMENT and size <= MAX_SEGMENT_BYTES):
        raise ValueError("a segment holds 1 to MAX_CHUNKS_PER_SEGMENT chunks, MAX_SEGMENT_BYTES")
    if not _is_offset(segment.offset) or position > MAX_OFFSET:
        raise ValueError("segment offset out of range")


def _json_object(raw: bytes, what: str) -> dict[str, object]:
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise SegmentInvalid(f"{what} is not JSON") from error
    if not isinstance(value, dict):
        raise SegmentInvalid(f"{what} is not a JSON object")
    return value


def _is_offset(value: object) -> TypeGuard[int]:
    return type(value) is int and 0 <= value <= MAX_OFFSET


def _is_version(value: object) -> bool:
    return type(value) is int and value == FORMAT_VERSION
