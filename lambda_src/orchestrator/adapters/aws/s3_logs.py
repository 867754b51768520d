"""Execution logs from the run's output segments in S3 (see orchestrator.output_segments).

Read exactly as the embedded server reads its log files: the cursor is the decimal byte
offset, pages are cut at `max_bytes` anywhere, chunks keep each stream's exact bytes with
their offsets and timestamps. Segments are named by their end offset, so one
ListObjectsV2 call with StartAfter=<cursor - 1, padded> starts at the segment holding the
cursor; only the segments a page needs are read (at most MAX_SEGMENTS_PER_PAGE; a page
that stops there is not `at_end`).

`at_end` when the page reached the last stored segment. An ended execution whose end
marker is missing (the agent is writing its last segment, or died) is not at its end for
END_MARKER_GRACE_SECONDS after it finished, so a follower waits for those last bytes
without waiting forever. A segment this format does not describe (or missing between
listing and reading) ends the readable output there: the page stops before it, `at_end`,
with `truncated_at` at that offset. It is logged, never a 5xx."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from orchestrator.adapters.aws.clients import error_code
from orchestrator.adapters.clock import SystemClock
from orchestrator.domain.cursors import parse_offset_cursor
from orchestrator.domain.errors import ValidationFailed
from orchestrator.domain.models import Execution, LogChunk, LogPage, LogStream
from orchestrator.output_segments import (
    END_NAME,
    MAX_END_MARKER_BYTES,
    MAX_OBJECT_BYTES,
    MAX_OFFSET,
    EndMarker,
    Segment,
    SegmentInvalid,
    decode_end,
    decode_segment,
    output_prefix,
    parse_segment_name,
    segment_name,
)
from orchestrator.ports import Clock

MAX_SEGMENTS_PER_PAGE = 32
END_MARKER_GRACE_SECONDS = 10.0
_log = logging.getLogger(__name__)


@dataclass
class _Listing:
    segments: list[tuple[int, str]]  # (end offset, key), in order
    complete: bool  # nothing more is stored after these (the listing was not cut short)
    end_key: str | None


class _Unreadable(Exception):
    """A segment or marker that cannot be read as this format describes."""


class S3LogReader:
    def __init__(self, s3: Any, bucket: str, clock: Clock | None = None) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._clock = clock or SystemClock()

    def read(self, execution: Execution, cursor: str | None, max_bytes: int) -> LogPage:
        offset = parse_offset_cursor(cursor)
        if offset > MAX_OFFSET:
            raise _past_the_end(cursor)
        prefix = output_prefix(execution.execution_id)
        listing = self._list(prefix, offset)
        segments = listing.segments
        # Where the next segment must start, when known (always, but mid-segment).
        expected_start: int | None = 0 if offset == 0 else None
        if segments and segments[0][0] == offset:  # the cursor is on a boundary
            segments, expected_start = segments[1:], offset
        elif offset > 0 and not segments and listing.complete:
            raise _past_the_end(cursor)
        chunks: list[LogChunk] = []
        position, budget = offset, max_bytes
        for count, (end, key) in enumerate(segments):
            if budget <= 0 or count == MAX_SEGMENTS_PER_PAGE:
                return LogPage(chunks=chunks, next_cursor=str(position), at_end=False)
            try:
                segment = self._segment(key, end, position, expected_start)
            except _Unreadable as error:
                _log.warning("unreadable output of %s: %s", execution.execution_id, error)
                return LogPage(chunks, str(position), at_end=True, truncated_at=position)
            taken = _take(segment, position, budget)
            chunks.extend(taken)
            gained = sum(len(chunk.data) for chunk in taken)
            position += gained
            budget -= gained
            expected_start = end
            if position < end:  # the page is full in the middle of this segment
                return LogPage(chunks=chunks, next_cursor=str(position), at_end=False)
        marker = self._marker(listing.end_key, position, execution) if listing.complete else None
        at_end = listing.complete and (marker is not None or not self._awaiting_marker(execution))
        return LogPage(
            chunks=chunks,
            next_cursor=str(position),
            at_end=at_end,
            truncated_at=marker.truncated_at if marker else None,
        )

    def _list(self, prefix: str, offset: int) -> _Listing:
        request: dict[str, Any] = {
            "Bucket": self._bucket,
            "Prefix": prefix,
            "MaxKeys": MAX_SEGMENTS_PER_PAGE + 2,
        }
        if offset > 0:  # the first segment ending at or after the cursor comes first
            request["StartAfter"] = prefix + segment_name(offset - 1)
        answer = self._s3.list_objects_v2(**request)
        segments: list[tuple[int, str]] = []
        end_key = None
        for item in answer.get("Contents", []):
            name = item["Key"][len(prefix) :]
            end = parse_segment_name(name)
            if end is not None:
                segments.append((end, item["Key"]))
            elif name == END_NAME:
                end_key = item["Key"]
        return _Listing(segments, complete=not answer.get("IsTruncated"), end_key=end_key)

    def _segment(self, key: str, end: int, position: int, expected_start: int | None) -> Segment:
        try:
            segment = decode_segment(self._get(key, MAX_OBJECT_BYTES))
        except SegmentInvalid as error:
            raise _Unreadable(f"{key}: {error}") from error
        if segment.end != end:
            raise _Unreadable(f"{key}: its bytes end at {segment.end}")
        if (expected_start is not None and segment.offset != expected_start) or not (
            segment.offset <= position < end
        ):
            raise _Unreadable(f"{key}: starts at {segment.offset}, not where the last ended")
        return segment

    def _marker(self, key: str | None, position: int, execution: Execution) -> EndMarker | None:
        """The end marker, when it is there and agrees with the segments read."""
        if key is None:
            return None
        try:
            marker = decode_end(self._get(key, MAX_END_MARKER_BYTES))
        except (SegmentInvalid, _Unreadable) as error:
            _log.warning("unreadable end marker of %s: %s", execution.execution_id, error)
            return None
        if marker.total != position:
            _log.warning("end marker of %s says %d bytes", execution.execution_id, marker.total)
            return None
        return marker

    def _awaiting_marker(self, execution: Execution) -> bool:
        if not execution.status.is_terminal:
            return False
        try:
            finished = datetime.fromisoformat(execution.finished_at or "")
        except ValueError:
            return False
        if finished.tzinfo is None:
            finished = finished.replace(tzinfo=UTC)
        return self._clock.now() - finished < timedelta(seconds=END_MARKER_GRACE_SECONDS)

    def _get(self, key: str, limit: int) -> bytes:
        try:
            answer = self._s3.get_object(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if error_code(error) in ("NoSuchKey", "404"):
                raise _Unreadable(f"{key}: gone") from error
            raise
        with answer["Body"] as body:
            if int(answer.get("ContentLength", 0)) > limit:
                raise _Unreadable(f"{key}: larger than {limit} bytes")
            data: bytes = body.read(limit + 1)
        if len(data) > limit:
            raise _Unreadable(f"{key}: larger than {limit} bytes")
        return data


def _past_the_end(cursor: str | None) -> ValidationFailed:
    return ValidationFailed("invalid log cursor: past the end of the log", {"cursor": cursor})


def _take(segment: Segment, position: int, budget: int) -> list[LogChunk]:
    """The segment's chunks from `position`, at most `budget` bytes, cut where needed."""
    taken: list[LogChunk] = []
    for chunk in segment.chunks:
        chunk_end = chunk.offset + len(chunk.data)
        if chunk_end <= position:
            continue
        if budget <= 0:
            break
        start = position - chunk.offset if position > chunk.offset else 0
        data = chunk.data[start : start + budget]
        taken.append(LogChunk(chunk.offset + start, LogStream(chunk.stream), chunk.timestamp, data))
        position += len(data)
        budget -= len(data)
    return taken
