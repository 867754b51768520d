"""The run agent's output writer: the command's bytes, streams apart, into S3 segments.

Pieces are kept exactly as read; adjacent pieces of one stream join into one chunk stamped
with its first piece's time. A segment is flushed once its first byte has waited
`flush_interval` (0.25 s: a follower sees output within about a second), at
MAX_SEGMENT_BYTES or MAX_CHUNKS_PER_SEGMENT, and on close. Past `max_bytes` (the log cap)
output is dropped: what is buffered is flushed and the end marker records `truncated_at`
at once, since nothing more will be stored. A write the store refuses or cannot take is
raised to the caller, then and on every later call (the agent ends the run FAILED).
Standard library only."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from orchestrator.agent.segment_post import ObjectStore
from orchestrator.output_segments import (
    MAX_CHUNKS_PER_SEGMENT,
    MAX_SEGMENT_BYTES,
    STREAMS,
    EndMarker,
    Segment,
    SegmentChunk,
    encode_end,
    encode_segment,
    end_key,
    segment_key,
    timestamp_of,
)

FLUSH_INTERVAL = 0.25


class OutputWriter:
    def __init__(
        self,
        execution_id: str,
        store: ObjectStore,
        max_bytes: int,
        clock: Callable[[], float] = time.time,
        flush_interval: float = FLUSH_INTERVAL,
        segment_bytes: int = MAX_SEGMENT_BYTES,
    ) -> None:
        if not 1 <= segment_bytes <= MAX_SEGMENT_BYTES:
            raise ValueError(f"segment_bytes must be between 1 and {MAX_SEGMENT_BYTES}")
        self._execution_id = execution_id
        self._store = store
        self._max_bytes = max_bytes
        self._clock = clock
        self._flush_interval = flush_interval
        self._segment_bytes = segment_bytes
        self._writing = threading.RLock()  # one write (or close) at a time
        self._lock = threading.Lock()  # the buffer
        self._posting = threading.Lock()  # one segment at a time, in order
        self._chunks: list[tuple[str, str, bytearray]] = []
        self._buffered = 0
        self._first_at = 0.0
        self._flushed = 0  # bytes stored in segments so far
        self.size = 0  # bytes accepted (stored or buffered)
        self.truncated_at: int | None = None
        self.error: Exception | None = None
        self._ended = False

    def write(self, stream: str, data: bytes) -> bool:
        """Take `data` read from `stream` ("stdout" or "stderr"). True when this write reached
        the cap (the caller reports it once); past the cap, output is dropped."""
        if stream not in STREAMS:
            raise ValueError(f"unknown stream {stream!r}")
        with self._writing:
            self._raise_failure()
            if self.truncated_at is not None or not data:
                return False
            if self._ended:
                raise ValueError("the output is closed: nothing more can be stored")
            room = self._max_bytes - self.size
            kept = memoryview(data)[: max(room, 0)]
            while kept:
                with self._lock:
                    taken = self._buffer(stream, kept)
                    full = (
                        self._buffered >= self._segment_bytes
                        or len(self._chunks) >= MAX_CHUNKS_PER_SEGMENT
                    )
                kept = kept[taken:]
                if full or kept:
                    self.flush()
            if len(data) <= room:
                self.flush_if_due()
                return False
            self.truncated_at = self.size
            self.close()
            return True

    def flush_if_due(self) -> None:
        """Flush when the oldest buffered byte has waited the flush interval (the timer)."""
        with self._lock:
            waited = self._clock() - self._first_at
            due = self._buffered > 0 and not 0 <= waited < self._flush_interval
        if due:
            self.flush()

    def flush(self) -> None:
        """Store what is buffered as one segment."""
        with self._posting:
            self._raise_failure()
            with self._lock:
                segment = self._take()
            if segment is not None:
                self._put(segment_key(self._execution_id, segment.end), encode_segment(segment))
                self._flushed = segment.end

    def close(self) -> None:
        """Flush, then write the end marker: the output is complete. Once only."""
        with self._writing:
            if self._ended:
                return
            self.flush()
            with self._posting:
                marker = EndMarker(self._flushed, self.truncated_at)
                self._put(end_key(self._execution_id), encode_end(marker))
                self._ended = True

    def _buffer(self, stream: str, data: memoryview) -> int:
        """Add what fits in the current segment; how many bytes were taken."""
        if len(self._chunks) >= MAX_CHUNKS_PER_SEGMENT:
            return 0
        piece = data[: self._segment_bytes - self._buffered]
        if not piece:
            return 0
        now = self._clock()
        if not self._buffered:
            self._first_at = now
        if self._chunks and self._chunks[-1][0] == stream:
            self._chunks[-1][2].extend(piece)
        else:
            self._chunks.append((stream, timestamp_of(now), bytearray(piece)))
        self._buffered += len(piece)
        self.size += len(piece)
        return len(piece)

    def _take(self) -> Segment | None:
        if not self._chunks:
            return None
        chunks, position = [], self._flushed
        for stream, stamp, data in self._chunks:
            chunks.append(SegmentChunk(position, stream, stamp, bytes(data)))
            position += len(data)
        self._chunks, self._buffered = [], 0
        return Segment(self._flushed, tuple(chunks))

    def _put(self, key: str, body: bytes) -> None:
        try:
            self._store.put(key, body)
        except Exception as error:
            self.error = error
            raise

    def _raise_failure(self) -> None:
        if self.error is not None:
            raise self.error


class FlushTimer:
    """Calls the writer's flush_if_due every `tick` seconds on a thread, until stopped.
    A failure stops the timer; the writer keeps it (`error`) and raises it on its next call."""

    def __init__(self, writer: OutputWriter, tick: float = FLUSH_INTERVAL / 5) -> None:
        self._writer = writer
        self._tick = tick
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="output-flush", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stopped.wait(self._tick):
            try:
                self._writer.flush_if_due()
            except Exception:  # kept by the writer, raised to the agent on its next call
                return
