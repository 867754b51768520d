"""The AWS output segment format: exact bytes round-trip, and a decoder facing anything else
(an object a hostile writer put under the prefix) raises SegmentInvalid, nothing else."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.output_segments import (
    MAX_CHUNKS_PER_SEGMENT,
    MAX_HEADER_BYTES,
    MAX_SEGMENT_BYTES,
    EndMarker,
    Segment,
    SegmentChunk,
    SegmentInvalid,
    decode_end,
    decode_segment,
    encode_end,
    encode_segment,
    parse_segment_name,
    segment_key,
    segment_name,
    timestamp_of,
)

STAMP = "2026-01-01T00:00:00.250Z"


def segment(offset: int, *pieces: tuple[str, bytes]) -> Segment:
    chunks, position = [], offset
    for stream, data in pieces:
        chunks.append(SegmentChunk(position, stream, STAMP, data))
        position += len(data)
    return Segment(offset, tuple(chunks))


def header(body: bytes) -> dict[str, object]:
    decoded: dict[str, object] = json.loads(body.split(b"\n", 1)[0])
    return decoded


def test_exact_bytes_of_both_streams_round_trip() -> None:
    # Given chunks with \r, a partial line, bytes that are not UTF-8, a newline and NUL
    original = segment(
        10,
        ("stdout", b"A\nB\rC\n\xff\xfe"),
        ("stderr", b"warn\r"),
        ("stdout", b"partial\x00\n\n"),
    )

    # When encoded and decoded
    decoded = decode_segment(encode_segment(original))

    # Then everything comes back, offsets following from the segment's start
    assert decoded == original
    assert [c.offset for c in decoded.chunks] == [10, 18, 23]
    assert decoded.end == 33


def test_the_header_is_one_json_line_then_the_raw_bytes() -> None:
    body = encode_segment(segment(0, ("stderr", b"\n\n")))
    assert body == b'{"v":1,"offset":0,"chunks":[["stderr","' + STAMP.encode() + b'",2]]}\n\n\n'


def test_segments_are_named_by_where_they_end_so_names_sort_by_offset() -> None:
    assert segment_key("e1", 5) == "runs/e1/output/0000000000000005"
    assert parse_segment_name(segment_name(10**15)) == 10**15
    names = [segment_name(n) for n in (9, 10, 100, 10**12)] + ["end"]
    assert sorted(names) == names
    for other in ["end", "5", "000000000000000a", "00000000000000005", "0000000000000005 "]:
        assert parse_segment_name(other) is None


def test_timestamps_are_utc_with_milliseconds() -> None:
    assert timestamp_of(1767225600.25) == "2026-01-01T00:00:00.250Z"


@pytest.mark.parametrize(
    "bad",
    [
        Segment(0, ()),  # nothing in it
        segment(0, ("stdout", b"")),  # an empty chunk
        segment(0, ("combined", b"x")),  # not a stream this store keeps
        Segment(0, (SegmentChunk(1, "stdout", STAMP, b"x"),)),  # not where the segment starts
        Segment(0, (SegmentChunk(0, "stdout", "yesterday", b"x"),)),
        segment(0, ("stdout", b"x" * (MAX_SEGMENT_BYTES + 1))),
        segment(-1, ("stdout", b"x")),
    ],
)
def test_the_encoder_refuses_what_the_decoder_would(bad: Segment) -> None:
    with pytest.raises(ValueError):
        encode_segment(bad)


def test_as_many_chunks_as_allowed_fit_in_the_header() -> None:
    pieces = [("stdout" if n % 2 else "stderr", b"x") for n in range(MAX_CHUNKS_PER_SEGMENT)]
    body = encode_segment(segment(0, *pieces))
    assert body.index(b"\n") < MAX_HEADER_BYTES
    assert len(decode_segment(body).chunks) == MAX_CHUNKS_PER_SEGMENT


GOOD = encode_segment(segment(4, ("stdout", b"abc"), ("stderr", b"de")))
HEAD = GOOD.split(b"\n", 1)[0]


def with_header(**changes: object) -> bytes:
    fields = {"v": 1, "offset": 4, "chunks": [["stdout", STAMP, 3], ["stderr", STAMP, 2]]}
    fields.update(changes)
    return json.dumps(fields).encode() + b"\nabcde"


HOSTILE = {
    "empty": b"",
    "no header line": b"x" * 100,
    "header past the limit": b" " * (MAX_HEADER_BYTES + 1) + HEAD + b"\nabcde",
    "not JSON": b"{oops\nabcde",
    "not UTF-8": b"\xff\xfe\nabcde",
    "deeply nested": b"[" * 100_000 + b"\nabcde",
    "a JSON list": b"[1,2]\nabcde",
    "another version": with_header(v=2),
    "true as the version": with_header(v=True),
    "an extra field": with_header(extra=1),
    "a negative offset": with_header(offset=-1),
    "a float offset": with_header(offset=4.0),
    "a huge offset": with_header(offset=10**16),
    "no chunks": with_header(chunks=[]),
    "chunks not a list": with_header(chunks={"a": 1}),
    "a chunk not a triple": with_header(chunks=[["stdout", STAMP]]),
    "an unknown stream": with_header(chunks=[["combined", STAMP, 5]]),
    "a bad timestamp": with_header(chunks=[["stdout", "2026-01-01 00:00:00", 5]]),
    "a timestamp with a newline": with_header(chunks=[["stdout", STAMP + "\n", 5]]),
    "a zero length": with_header(chunks=[["stdout", STAMP, 0], ["stdout", STAMP, 5]]),
    "a negative length": with_header(chunks=[["stdout", STAMP, -1], ["stdout", STAMP, 6]]),
    "a boolean length": with_header(chunks=[["stdout", STAMP, True], ["stdout", STAMP, 4]]),
    "lengths past the bytes": with_header(chunks=[["stdout", STAMP, 6]]),
    "bytes past the lengths": with_header(chunks=[["stdout", STAMP, 4]]),
    "too many chunks": with_header(chunks=[["stdout", STAMP, 1]] * (MAX_CHUNKS_PER_SEGMENT + 1)),
    "bytes past the segment limit": HEAD.replace(
        b",2]]", b"," + str(MAX_SEGMENT_BYTES).encode() + b"]]"
    )
    + b"\n"
    + b"x" * (MAX_SEGMENT_BYTES + 3),
}


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_anything_else_is_segment_invalid(body: bytes) -> None:
    with pytest.raises(SegmentInvalid):
        decode_segment(body)


def test_the_end_marker_round_trips_and_refuses_anything_else() -> None:
    for marker in (EndMarker(0, None), EndMarker(4096, 4096)):
        assert decode_end(encode_end(marker)) == marker
    with pytest.raises(ValueError):
        encode_end(EndMarker(10, 5))
    for body in [
        b"",
        b"null",
        b'{"v":1,"total":5}',
        b'{"v":1,"total":5,"truncated_at":4}',
        b'{"v":1,"total":-5,"truncated_at":null}',
        b'{"v":1,"total":"5","truncated_at":null}',
        b'{"v":2,"total":5,"truncated_at":null}',
        b'{"v":1,"total":5,"truncated_at":null,"x":' + b"1" * 2000 + b"}",
    ]:
        with pytest.raises(SegmentInvalid):
            decode_end(body)


@settings(max_examples=300, deadline=None)
@given(
    cut=st.integers(0, len(GOOD)),
    flips=st.lists(st.tuples(st.integers(0, len(GOOD) - 1), st.integers(0, 255)), max_size=4),
)
def test_a_damaged_segment_decodes_consistently_or_is_segment_invalid(
    cut: int, flips: list[tuple[int, int]]
) -> None:
    damaged = bytearray(GOOD[:cut])
    for where, value in flips:
        if where < len(damaged):
            damaged[where] = value
    try:
        decoded = decode_segment(bytes(damaged))
    except SegmentInvalid:
        return
    assert b"".join(c.data for c in decoded.chunks) == bytes(damaged).split(b"\n", 1)[1]
