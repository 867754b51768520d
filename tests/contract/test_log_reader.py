"""LogReader contract: exact bytes from the start, pages cut anywhere at max_bytes with an
opaque cursor, a stream that does not exist yet, a follower polling at the end, the log cap -
for log files and the run agent's segments in S3 (moto). Then what
only the files and segments keep: streams, \r, partial lines and bytes that are not UTF-8."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from moto_aws import CODE_BUCKET, REGION
from orchestrator.adapters.aws.s3_logs import S3LogReader
from orchestrator.adapters.local.logfiles import (
    STDERR,
    STDOUT,
    LogFileReader,
    LogFileWriter,
    index_path,
)
from orchestrator.agent.output_writer import OutputWriter
from orchestrator.domain.errors import ValidationFailed
from orchestrator.domain.models import Execution, ExecutionStatus, LogPage
from output_store import post_store
from s3_post_policy import policy_front

Writer = Callable[[str, list[str]], None]
CAP = 4096


@dataclass
class LogHarness:
    reader: Any
    write: Writer  # (stream, lines): append each line and a newline, creating the stream
    stream: str
    # ("stdout" or "stderr", bytes): append exactly these bytes, for stores that keep them
    write_exact: Callable[[str, bytes], None] | None = None


def execution(stream: str | None) -> Execution:
    return Execution(
        execution_id="e1",
        user_email="a@x.io",
        command="x",
        status=ExecutionStatus.RUNNING,
        started_at="2026-01-01T00:00:00.000Z",
        timeout_seconds=5,
        log_stream_name=stream,
    )


def local_logs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LogHarness]:
    def write(stream: str, lines: list[str]) -> None:
        writer = LogFileWriter(tmp_path / stream, CAP)
        for line in lines:
            writer.write(STDOUT, line.encode() + b"\n")
        writer.close()

    def write_exact(stream: str, data: bytes) -> None:
        writer = LogFileWriter(tmp_path / "e1.out", CAP)
        writer.write(STDOUT if stream == "stdout" else STDERR, data)
        writer.close()

    yield LogHarness(LogFileReader(tmp_path), write, "e1.out", write_exact)


def s3_segments(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LogHarness]:
    """The run agent's writer posting segments through its presigned POST (S3's policy
    checks in front of a moto server); each write is flushed, as the agent's timer would."""
    request.getfixturevalue("output_bucket")
    with policy_front(request.getfixturevalue("moto_server")) as (endpoint, _):
        writer = OutputWriter("e1", post_store(endpoint), CAP)

        def write(stream: str, lines: list[str]) -> None:
            for line in lines:
                writer.write("stdout", line.encode() + b"\n")
            writer.flush()

        def write_exact(stream: str, data: bytes) -> None:
            writer.write(stream, data)
            writer.flush()

        reader = S3LogReader(boto3.client("s3", region_name=REGION), CODE_BUCKET)
        yield LogHarness(reader, write, "e1.out", write_exact)


READERS = {"files": local_logs, "s3": s3_segments}


@pytest.fixture(params=sorted(READERS))
def logs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LogHarness]:
    yield from READERS[request.param](request, tmp_path)


@pytest.fixture(params=["files", "s3"])
def exact_logs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LogHarness]:
    """The stores that keep bytes exactly and streams apart."""
    yield from READERS[request.param](request, tmp_path)


def read_all(logs: LogHarness, target: Execution, max_bytes: int) -> tuple[bytes, list[LogPage]]:
    pages, cursor = [], None
    while True:
        page = logs.reader.read(target, cursor, max_bytes)
        pages.append(page)
        cursor = page.next_cursor
        if page.at_end:
            return b"".join(c.data for p in pages for c in p.chunks), pages


def test_output_is_read_from_the_start_in_pages_cut_at_max_bytes(logs: LogHarness) -> None:
    # Given five lines, with a character that takes two bytes
    lines = [f"line {n} ü" for n in range(5)]
    logs.write(logs.stream, lines)
    target = execution(logs.stream)

    # When they are read 7 bytes at a time (cutting lines and the ü in the middle)
    data, pages = read_all(logs, target, 7)

    # Then the bytes come back exactly, each chunk at its offset, no page over 7 bytes
    assert data == "".join(f"{line}\n" for line in lines).encode()
    offsets = [c.offset for p in pages for c in p.chunks]
    sizes = [len(c.data) for p in pages for c in p.chunks]
    assert offsets == [sum(sizes[:n]) for n in range(len(sizes))]
    assert all(sum(len(c.data) for c in p.chunks) <= 7 for p in pages)
    assert all(not p.at_end for p in pages[:-1])
    assert pages[0].chunks[0].timestamp.endswith("Z")


def test_a_big_page_holds_everything_up_to_max_bytes(logs: LogHarness) -> None:
    logs.write(logs.stream, ["x" * 1000 for _ in range(3)])
    target = execution(logs.stream)

    page = logs.reader.read(target, None, 2500)
    rest = logs.reader.read(target, page.next_cursor, 2500)

    assert sum(len(c.data) for c in page.chunks) == 2500
    assert b"".join(c.data for c in rest.chunks) == b"x" * 502 + b"\n"
    assert (page.at_end, rest.at_end) == (False, True)


def test_a_follower_at_the_end_sees_new_output_once(logs: LogHarness) -> None:
    logs.write(logs.stream, ["one", "two"])
    target = execution(logs.stream)
    first = logs.reader.read(target, None, 100)

    idle = logs.reader.read(target, first.next_cursor, 100)
    again = logs.reader.read(target, idle.next_cursor, 100)
    logs.write(logs.stream, ["three"])
    fresh = logs.reader.read(target, again.next_cursor, 100)
    after = logs.reader.read(target, fresh.next_cursor, 100)

    assert b"".join(c.data for c in first.chunks) == b"one\ntwo\n"
    assert idle.chunks == [] and again.chunks == []
    assert idle.at_end and again.at_end and first.at_end
    assert [(c.offset, c.data) for c in fresh.chunks] == [(8, b"three\n")]
    assert after.chunks == [] and after.at_end


def test_a_cursor_in_the_middle_of_a_line_resumes_there(logs: LogHarness) -> None:
    logs.write(logs.stream, ["abcdef"])
    target = execution(logs.stream)
    first = logs.reader.read(target, None, 3)
    logs.write(logs.stream, ["ghi"])

    rest = logs.reader.read(target, first.next_cursor, 100)

    assert b"".join(c.data for c in rest.chunks) == b"def\nghi\n"
    assert rest.chunks[0].offset == 3


def test_a_stream_that_does_not_exist_yet_is_an_empty_page(logs: LogHarness) -> None:
    page = logs.reader.read(execution("not-yet"), None, 10)
    assert (page.chunks, page.at_end, page.truncated_at) == ([], True, None)
    later = logs.reader.read(execution("not-yet"), page.next_cursor, 10)
    assert later.chunks == []


def test_a_foreign_cursor_is_a_validation_error(logs: LogHarness) -> None:
    logs.write(logs.stream, ["one"])
    for cursor in ["abc", "-1", "\u00b2", "9" * 40, "e30", "1.5"]:
        with pytest.raises(ValidationFailed):
            logs.reader.read(execution(logs.stream), cursor, 10)


def test_output_past_the_cap_is_not_delivered_and_the_page_says_where(logs: LogHarness) -> None:
    # Given more output than the cap (4096 bytes)
    logs.write(logs.stream, ["y" * 999 for _ in range(5)])
    target = execution(logs.stream)

    # When it is all read
    data, pages = read_all(logs, target, 1000)

    # Then exactly the cap's worth comes back, and the last page says where it stopped
    assert data == (b"y" * 999 + b"\n") * 4 + b"y" * 96
    assert pages[-1].truncated_at == CAP


def test_chunks_keep_each_streams_exact_bytes(exact_logs: LogHarness) -> None:
    # Given stdout and stderr writes with \r, a partial line and bytes that are not UTF-8
    assert exact_logs.write_exact is not None
    exact_logs.write_exact("stdout", b"A\nB\rC\n\xff\xfe")
    exact_logs.write_exact("stderr", b"warn\r")
    exact_logs.write_exact("stdout", b"partial")

    # When read
    page = exact_logs.reader.read(execution(exact_logs.stream), None, 1000)

    # Then each chunk is one stream's bytes, unchanged
    assert [(c.offset, c.stream.value, c.data) for c in page.chunks] == [
        (0, "stdout", b"A\nB\rC\n\xff\xfe"),
        (8, "stderr", b"warn\r"),
        (13, "stdout", b"partial"),
    ]
    assert page.next_cursor == "20"


def test_a_page_cut_inside_a_chunk_keeps_its_stream_and_offset(exact_logs: LogHarness) -> None:
    assert exact_logs.write_exact is not None
    exact_logs.write_exact("stderr", b"0123456789")
    exact_logs.write_exact("stdout", b"abc")
    target = execution(exact_logs.stream)

    first = exact_logs.reader.read(target, None, 4)
    second = exact_logs.reader.read(target, first.next_cursor, 8)

    assert [(c.offset, c.stream.value, c.data) for c in first.chunks + second.chunks] == [
        (0, "stderr", b"0123"),
        (4, "stderr", b"456789"),
        (10, "stdout", b"ab"),
    ]
    assert (first.at_end, second.at_end, second.next_cursor) == (False, False, "12")


def test_local_bytes_without_an_index_are_still_read(tmp_path: Path) -> None:
    (tmp_path / "e1.out").write_bytes(b"no index\r")
    page = LogFileReader(tmp_path).read(execution("e1.out"), None, 100)
    assert [c.data for c in page.chunks] == [b"no index\r"]
    assert not index_path(tmp_path / "e1.out").exists()


def test_stream_names_cannot_escape_the_log_directory(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("top secret\n")
    logs_dir = tmp_path / "logs"
    logs_dir.mkdir()
    assert LogFileReader(logs_dir).read(execution("../secret"), None, 10).chunks == []
