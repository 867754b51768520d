"""The run agent's output writer: exact bytes, streams apart, segments flushed on time
(an injected clock), at the size and chunk limits and on close, the log cap, and failures
reported to the caller. The store here is in memory; tests/aws posts to S3 (moto)."""

from __future__ import annotations

import threading
import time

import pytest

from orchestrator.agent.output_writer import FlushTimer, OutputWriter
from orchestrator.agent.segment_post import WriteRefused
from orchestrator.output_segments import (
    MAX_CHUNKS_PER_SEGMENT,
    MAX_SEGMENT_BYTES,
    EndMarker,
    Segment,
    decode_end,
    decode_segment,
    parse_segment_name,
)

PREFIX = "runs/e1/output/"


class MemoryStore:
    """Keeps what is put, in order; refuses every put after `refuse_after` puts."""

    def __init__(self, refuse_after: int | None = None) -> None:
        self.objects: dict[str, bytes] = {}
        self.order: list[str] = []
        self._refuse_after = refuse_after
        self._lock = threading.Lock()

    def put(self, key: str, body: bytes) -> None:
        with self._lock:
            if self._refuse_after is not None and len(self.order) >= self._refuse_after:
                raise WriteRefused(key, 403, "AccessDenied", "Policy expired.")
            self.objects[key] = body
            self.order.append(key)

    def segments(self) -> list[Segment]:
        with self._lock:
            keys = [key for key in self.order if key != PREFIX + "end"]
            return [decode_segment(self.objects[key]) for key in keys]

    def end(self) -> EndMarker | None:
        body = self.objects.get(PREFIX + "end")
        return decode_end(body) if body is not None else None


class Clock:
    def __init__(self, now: float = 1767225600.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def pieces(store: MemoryStore) -> list[tuple[int, str, bytes]]:
    return [(c.offset, c.stream, c.data) for s in store.segments() for c in s.chunks]


def test_adjacent_pieces_of_a_stream_join_and_streams_stay_apart() -> None:
    store, clock = MemoryStore(), Clock()
    writer = OutputWriter("e1", store, 1000, clock)

    for stream, data in [
        ("stdout", b"A\r"),
        ("stdout", b"\xff"),
        ("stderr", b"e"),
        ("stdout", b"x"),
    ]:
        writer.write(stream, data)
    writer.flush()

    assert pieces(store) == [(0, "stdout", b"A\r\xff"), (3, "stderr", b"e"), (4, "stdout", b"x")]
    assert store.order == [PREFIX + "0000000000000005"]
    assert store.segments()[0].chunks[0].timestamp == "2026-01-01T00:00:00.000Z"


def test_a_segment_is_flushed_once_its_first_byte_has_waited_250_ms() -> None:
    # Given a writer on a clock that only moves when told
    store, clock = MemoryStore(), Clock()
    writer = OutputWriter("e1", store, 1000, clock)

    # When a byte is written, and the timer looks at 200 ms and at 250 ms
    writer.write("stdout", b"a")
    clock.now += 0.2
    writer.flush_if_due()
    stored_at_200_ms = list(store.order)
    clock.now += 0.05
    writer.flush_if_due()

    # Then the segment is stored at 250 ms, not before
    assert stored_at_200_ms == []
    assert pieces(store) == [(0, "stdout", b"a")]


def test_output_that_keeps_flowing_is_flushed_by_the_writes_themselves() -> None:
    store, clock = MemoryStore(), Clock()
    writer = OutputWriter("e1", store, 1000, clock)

    for _ in range(6):  # a write every 100 ms, and no timer
        writer.write("stdout", b"x")
        clock.now += 0.1

    # The fourth write, 300 ms after the first, takes all four out; the rest wait
    assert [s.end for s in store.segments()] == [4]
    assert store.segments()[0].chunks[0].timestamp == "2026-01-01T00:00:00.000Z"


def test_a_full_segment_is_flushed_at_once_and_a_huge_write_is_split() -> None:
    # Given 2.5 MiB written in one piece, and no time passing
    store, clock = MemoryStore(), Clock()
    writer = OutputWriter("e1", store, 10 * MAX_SEGMENT_BYTES, clock)
    data = bytes(range(256)) * (MAX_SEGMENT_BYTES * 5 // 2 // 256)

    writer.write("stderr", data)
    flushed = [s.end for s in store.segments()]
    writer.close()

    # Then two full segments went at once, the rest on close, contiguous and exact
    assert flushed == [MAX_SEGMENT_BYTES, 2 * MAX_SEGMENT_BYTES]
    segments = store.segments()
    assert [s.offset for s in segments] == [0, MAX_SEGMENT_BYTES, 2 * MAX_SEGMENT_BYTES]
    assert b"".join(c.data for s in segments for c in s.chunks) == data
    assert [parse_segment_name(k[len(PREFIX) :]) for k in store.order[:-1]] == [
        s.end for s in segments
    ]
    assert store.end() == EndMarker(len(data), None)


def test_a_segment_is_flushed_when_it_holds_as_many_chunks_as_allowed() -> None:
    store = MemoryStore()
    writer = OutputWriter("e1", store, 10**6, Clock())

    for n in range(MAX_CHUNKS_PER_SEGMENT + 1):
        writer.write("stdout" if n % 2 else "stderr", b"x")

    assert [len(s.chunks) for s in store.segments()] == [MAX_CHUNKS_PER_SEGMENT]


def test_past_the_cap_output_is_dropped_and_the_end_marker_says_where_at_once() -> None:
    # Given a cap of 10 bytes
    store = MemoryStore()
    writer = OutputWriter("e1", store, 10, Clock())

    # When 6, then 6 more, then more bytes are written
    first = writer.write("stdout", b"123456")
    second = writer.write("stderr", b"789abc")
    third = writer.write("stdout", b"more")
    writer.close()

    # Then the cap's worth is stored, reported once, and the end marker is written at once
    assert (first, second, third) == (False, True, False)
    assert pieces(store) == [(0, "stdout", b"123456"), (6, "stderr", b"789a")]
    assert writer.truncated_at == 10
    assert store.end() == EndMarker(10, 10)
    assert store.order[-1] == PREFIX + "end" and len(store.order) == 2


def test_output_exactly_at_the_cap_is_truncated_only_by_the_next_byte() -> None:
    store = MemoryStore()
    writer = OutputWriter("e1", store, 4, Clock())

    assert writer.write("stdout", b"1234") is False
    assert writer.truncated_at is None
    assert writer.write("stdout", b"5") is True
    assert store.end() == EndMarker(4, 4)


def test_close_writes_the_end_marker_once_even_with_nothing_written() -> None:
    store = MemoryStore()
    writer = OutputWriter("e1", store, 10, Clock())
    writer.close()
    writer.close()
    assert store.order == [PREFIX + "end"]
    assert store.end() == EndMarker(0, None)


def test_a_refused_write_is_raised_then_and_on_every_later_call() -> None:
    # Given a store that refuses its second object
    store = MemoryStore(refuse_after=1)
    writer = OutputWriter("e1", store, 100, Clock())
    writer.write("stdout", b"a")
    writer.flush()

    # When the next segment is flushed, then written to and closed
    writer.write("stdout", b"b")
    with pytest.raises(WriteRefused):
        writer.flush()

    # Then the failure is reported each time, and nothing more is stored
    with pytest.raises(WriteRefused):
        writer.write("stdout", b"c")
    with pytest.raises(WriteRefused):
        writer.close()
    assert isinstance(writer.error, WriteRefused)
    assert store.order == [PREFIX + "0000000000000001"]


def test_a_write_after_close_is_an_error_not_a_silent_loss() -> None:
    writer = OutputWriter("e1", MemoryStore(), 10, Clock())
    writer.close()
    with pytest.raises(ValueError, match="closed"):
        writer.write("stdout", b"late")


def test_an_unknown_stream_is_refused() -> None:
    with pytest.raises(ValueError):
        OutputWriter("e1", MemoryStore(), 10, Clock()).write("combined", b"x")


def test_the_timer_flushes_output_within_the_interval_on_the_real_clock() -> None:
    # Given a writer and its timer on the real clock
    store = MemoryStore()
    writer = OutputWriter("e1", store, 1000)
    timer = FlushTimer(writer)
    timer.start()
    try:
        # When a line is written and nothing else happens
        writer.write("stdout", b"hello\n")
        written_at = time.monotonic()
        stored_at_once = list(store.order)
        while not store.order and time.monotonic() - written_at < 5:
            time.sleep(0.01)
        waited = time.monotonic() - written_at
    finally:
        timer.stop()

    # Then the timer stored it, about 250 ms later
    assert stored_at_once == []
    assert pieces(store) == [(0, "stdout", b"hello\n")]
    assert 0.2 <= waited < 2.0


def test_two_pumps_writing_at_once_keep_each_streams_bytes_in_order() -> None:
    store = MemoryStore()
    writer = OutputWriter("e1", store, 10**6, segment_bytes=4096)
    timer = FlushTimer(writer, tick=0.001)
    timer.start()

    def pump(stream: str) -> None:
        for n in range(2000):
            writer.write(stream, f"{stream} {n}\n".encode())

    threads = [threading.Thread(target=pump, args=(s,)) for s in ("stdout", "stderr")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    timer.stop()
    writer.close()

    segments = store.segments()
    assert [s.offset for s in segments[1:]] == [s.end for s in segments[:-1]]
    for stream in ("stdout", "stderr"):
        data = b"".join(c.data for s in segments for c in s.chunks if c.stream == stream)
        assert data == b"".join(f"{stream} {n}\n".encode() for n in range(2000))
    assert store.end() == EndMarker(writer.size, None)
