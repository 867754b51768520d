"""The S3 LogReader on moto, what only it has to handle: listing only from the cursor's
segment, pages over many segments, hostile or foreign objects under the prefix, the end
marker, an ended run whose marker is missing, and the logs service's `complete` over it.
The LogReader contract itself is in tests/contract/test_log_reader.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fakes import InMemoryExecutionStore
from moto_aws import CODE_BUCKET
from orchestrator.adapters.aws.s3_logs import MAX_SEGMENTS_PER_PAGE, S3LogReader
from orchestrator.agent.output_writer import OutputWriter
from orchestrator.domain.errors import ValidationFailed
from orchestrator.domain.execution_reads import ExecutionReads
from orchestrator.domain.models import Caller, ExecutionStatus, Role
from orchestrator.output_segments import (
    MAX_OBJECT_BYTES,
    EndMarker,
    encode_end,
    end_key,
    segment_key,
)
from orchestrator.ports import NoLogWait
from output_store import execution, post_store

STAMP = b'"2026-01-01T00:00:00.000Z"'


def write_segments(endpoint: str, sizes: list[int]) -> bytes:
    """One segment per size (streams alternating), then the end marker."""
    writer = OutputWriter("e1", post_store(endpoint), 10**6)
    written = b""
    for number, size in enumerate(sizes):
        data = bytes([65 + number % 26]) * size
        writer.write("stdout" if number % 2 == 0 else "stderr", data)
        writer.flush()
        written += data
    writer.close()
    return written


def test_a_cursor_deep_in_the_log_lists_from_its_segment_and_reads_only_what_it_needs(
    front: Any, s3: Any
) -> None:
    # Given 40 segments of 10 bytes
    written = write_segments(front[0], [10] * 40)
    calls: list[tuple[str, dict[str, Any]]] = []
    s3.meta.events.register(
        "provide-client-params.s3.*",
        lambda params, model, **_: calls.append((model.name, dict(params))),
    )

    # When 25 bytes are read from the middle of the 31st segment
    page = S3LogReader(s3, CODE_BUCKET).read(execution(), "305", 25)

    # Then one listing starts at that segment, and only the three segments needed are read
    assert b"".join(c.data for c in page.chunks) == written[305:330]
    assert [c.offset for c in page.chunks] == [305, 310, 320]
    assert [c.stream.value for c in page.chunks] == ["stdout", "stderr", "stdout"]
    assert [name for name, _ in calls] == ["ListObjectsV2"] + ["GetObject"] * 3
    assert calls[0][1]["StartAfter"] == segment_key("e1", 304)
    assert [params["Key"] for _, params in calls[1:]] == [
        segment_key("e1", end) for end in (310, 320, 330)
    ]


def test_a_page_over_many_small_segments_stops_at_the_segment_limit(front: Any, s3: Any) -> None:
    written = write_segments(front[0], [1] * (MAX_SEGMENTS_PER_PAGE + 5))
    reader = S3LogReader(s3, CODE_BUCKET)

    first = reader.read(execution(), None, 1000)
    rest = reader.read(execution(), first.next_cursor, 1000)

    assert (len(first.chunks), first.at_end, first.next_cursor) == (
        MAX_SEGMENTS_PER_PAGE,
        False,
        str(MAX_SEGMENTS_PER_PAGE),
    )
    assert b"".join(c.data for c in first.chunks + rest.chunks) == written
    assert rest.at_end


def test_a_cursor_past_the_stored_output_is_a_validation_error(front: Any, s3: Any) -> None:
    write_segments(front[0], [10])
    reader = S3LogReader(s3, CODE_BUCKET)
    assert reader.read(execution(), "10", 10).chunks == []
    for cursor in ["11", "9" * 19]:
        with pytest.raises(ValidationFailed):
            reader.read(execution(), cursor, 10)


HOSTILE_SEGMENTS = {
    "not the format": b"<html>hello</html>",
    "ends elsewhere than its name says": b'{"v":1,"offset":10,"chunks":[["stdout",'
    + STAMP
    + b",3]]}\nabc",
    "overlaps the one before": b'{"v":1,"offset":5,"chunks":[["stdout",'
    + STAMP
    + b",10]]}\n0123456789",
    "too large": b"x" * (MAX_OBJECT_BYTES + 1),
}


@pytest.mark.parametrize("body", HOSTILE_SEGMENTS.values(), ids=HOSTILE_SEGMENTS.keys())
def test_a_hostile_segment_ends_the_readable_output_where_it_starts(
    front: Any, s3: Any, body: bytes
) -> None:
    # Given a good segment, then an object under the prefix that is not a good segment
    write_segments(front[0], [10])
    s3.put_object(Bucket=CODE_BUCKET, Key=segment_key("e1", 15), Body=body)
    reader = S3LogReader(s3, CODE_BUCKET)

    # When the log is read, then followed from where it stopped
    page = reader.read(execution(), None, 100)
    again = reader.read(execution(), page.next_cursor, 100)

    # Then the good bytes come back and the page says the output stops there: no error
    assert b"".join(c.data for c in page.chunks) == b"A" * 10
    assert (page.at_end, page.truncated_at, page.next_cursor) == (True, 10, "10")
    assert (again.chunks, again.truncated_at) == ([], 10)


def test_objects_with_other_names_under_the_prefix_are_ignored(front: Any, s3: Any) -> None:
    written = write_segments(front[0], [4, 4])
    s3.put_object(Bucket=CODE_BUCKET, Key="runs/e1/output/0000000000000004x", Body=b"junk")
    page = S3LogReader(s3, CODE_BUCKET).read(execution(), None, 100)
    assert b"".join(c.data for c in page.chunks) == written
    assert page.at_end


def test_a_bad_end_marker_is_ignored(front: Any, s3: Any) -> None:
    write_segments(front[0], [4])
    for body in [b"{not json", encode_end(EndMarker(99, None))]:
        s3.put_object(Bucket=CODE_BUCKET, Key=end_key("e1"), Body=body)
        page = S3LogReader(s3, CODE_BUCKET).read(execution(), None, 100)
        assert (len(page.chunks), page.at_end, page.truncated_at) == (1, True, None)


def test_an_ended_run_without_its_end_marker_is_awaited_for_a_few_seconds(
    front: Any, s3: Any
) -> None:
    # Given output whose end marker was never written (the agent stopped)
    writer = OutputWriter("e1", post_store(front[0]), 100)
    writer.write("stdout", b"last words")
    writer.flush()
    reader = S3LogReader(s3, CODE_BUCKET)
    now = datetime.now(UTC)

    def read(finished: datetime) -> bool:
        ended = execution(ExecutionStatus.FAILED, finished.isoformat())
        return reader.read(ended, None, 100).at_end

    # Then a follower keeps reading just after it ended, and stops a few seconds later
    assert read(now) is False
    assert read(now - timedelta(seconds=60)) is True
    assert reader.read(execution(), None, 100).at_end  # running: at the end of what is stored

    # And once the end marker is there, the page is at its end at once
    writer.close()
    assert read(now) is True


def test_the_logs_service_reads_the_segments_as_it_reads_log_files(front: Any, s3: Any) -> None:
    # Given a run that wrote to both streams and ended, its output closed by the agent
    executions = InMemoryExecutionStore()
    ended = replace(
        execution(ExecutionStatus.SUCCEEDED, datetime.now(UTC).isoformat()), exit_code=0
    )
    executions.create(ended)
    writer = OutputWriter("e1", post_store(front[0]), 1000)
    writer.write("stdout", b"out\r")
    writer.write("stderr", b"\xff err")
    reads = ExecutionReads(executions, S3LogReader(s3, CODE_BUCKET), NoLogWait())
    caller = Caller("a@x.io", Role.USER)

    # When the logs are read before and after the end marker
    writer.flush()
    _, before = reads.logs(caller, "e1", None, 100)
    writer.close()
    _, after = reads.logs(caller, "e1", None, 100)

    # Then the chunks are the same, exact, and only the closed output is complete
    assert [(c.stream.value, c.data) for c in after.chunks] == [
        ("stdout", b"out\r"),
        ("stderr", b"\xff err"),
    ]
    assert before.chunks == after.chunks
    assert (before.complete, after.complete, after.truncated_at) == (False, True, None)
    with pytest.raises(ValidationFailed):
        reads.logs(caller, "e1", "not-a-cursor", 100)
