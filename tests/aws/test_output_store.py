"""The AWS output store on moto: the presigned POST policy (S3's checks in front of a moto
server), the agent's poster (refusals reported, transient failures retried), and what only
the S3 reader has to handle: hostile or missing objects, the end marker, listing only from
the cursor. The LogReader contract itself is in tests/contract/test_log_reader.py."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from fakes import InMemoryExecutionStore
from moto_aws import CODE_BUCKET, REGION
from orchestrator import output_segments
from orchestrator.adapters.aws.s3_logs import MAX_SEGMENTS_PER_PAGE, S3LogReader
from orchestrator.adapters.aws.s3_output import SIGV4, SLOT_MARGIN_SECONDS, output_slot
from orchestrator.agent.output_writer import OutputWriter
from orchestrator.agent.segment_post import (
    ATTEMPTS,
    PostSlot,
    PresignedPostStore,
    WriteFailed,
    WriteRefused,
)
from orchestrator.domain.errors import ValidationFailed
from orchestrator.domain.execution_reads import ExecutionReads
from orchestrator.domain.models import Caller, Execution, ExecutionStatus, Role
from orchestrator.output_segments import (
    MAX_OBJECT_BYTES,
    EndMarker,
    encode_end,
    end_key,
    segment_key,
)
from orchestrator.ports import NoLogWait
from output_store import post_store, signed_slot
from s3_post_policy import PolicyFront, policy_front

KEY = "runs/e1/output/0000000000000003"
STAMP = b'"2026-01-01T00:00:00.000Z"'


@pytest.fixture
def front(output_bucket: str, moto_server: str) -> Iterator[tuple[str, PolicyFront]]:
    with policy_front(moto_server) as running:
        yield running


@pytest.fixture
def s3(output_bucket: str) -> Any:
    return boto3.client("s3", region_name=REGION)


def keys(s3: Any, prefix: str = "runs/") -> list[str]:
    listed = s3.list_objects_v2(Bucket=CODE_BUCKET, Prefix=prefix).get("Contents", [])
    return [item["Key"] for item in listed]


def execution(
    status: ExecutionStatus = ExecutionStatus.RUNNING, finished_at: str | None = None
) -> Execution:
    return Execution(
        execution_id="e1",
        user_email="a@x.io",
        command="x",
        status=status,
        started_at="2026-01-01T00:00:00.000Z",
        timeout_seconds=5,
        log_stream_name="e1",
        finished_at=finished_at,
    )


def test_the_policy_limits_keys_to_the_runs_output_prefix_size_and_time(output_bucket: str) -> None:
    # Given a slot for a run with a one-hour timeout
    s3 = boto3.client("s3", region_name=REGION, config=SIGV4)
    now = datetime.now(UTC)
    slot = output_slot(s3, CODE_BUCKET, "e1", 3600, now)

    # When its policy is read
    policy = json.loads(base64.b64decode(slot.fields["policy"]))

    # Then it allows the run's prefix only, one segment at most, for the run and a margin
    conditions = policy["conditions"]
    assert ["starts-with", "$key", "runs/e1/output/"] in conditions
    assert ["content-length-range", 1, MAX_OBJECT_BYTES] in conditions
    assert {"bucket": CODE_BUCKET} in conditions
    expires = datetime.fromisoformat(policy["expiration"])
    assert abs((expires - now).total_seconds() - (3600 + SLOT_MARGIN_SECONDS)) < 5
    assert slot.fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    assert (slot.prefix, slot.max_object_bytes) == ("runs/e1/output/", MAX_OBJECT_BYTES)


def test_a_slot_signed_with_sigv2_is_refused(output_bucket: str) -> None:
    with pytest.raises(ValueError, match="SigV4"):
        output_slot(
            boto3.client("s3", region_name=REGION), CODE_BUCKET, "e1", 60, datetime.now(UTC)
        )


def test_a_segment_is_stored_byte_for_byte_through_the_policy(front: Any, s3: Any) -> None:
    endpoint, _ = front
    body = b"\x00\xff\r\n--" + bytes(range(256))

    post_store(endpoint).put(KEY, body)

    assert s3.get_object(Bucket=CODE_BUCKET, Key=KEY)["Body"].read() == body


def test_a_key_outside_the_prefix_is_refused_by_the_policy(front: Any, s3: Any) -> None:
    # Given a slot for e1 whose holder tries another run's prefix
    endpoint, _ = front
    slot = signed_slot(endpoint)
    widened = PresignedPostStore(PostSlot(slot.url, slot.fields, "runs/"))

    # When it posts there, S3 refuses: nothing is stored
    with pytest.raises(WriteRefused) as refused:
        widened.put("runs/e2/output/0000000000000001", b"x")
    assert (refused.value.status, refused.value.code) == (403, "AccessDenied")
    assert keys(s3) == []


def test_the_poster_itself_keeps_keys_inside_its_prefix(front: Any) -> None:
    with pytest.raises(ValueError, match="outside"):
        post_store(front[0]).put("runs/e2/output/0000000000000001", b"x")


def test_an_object_larger_than_a_segment_is_refused_by_the_policy(front: Any, s3: Any) -> None:
    with pytest.raises(WriteRefused) as refused:
        post_store(front[0]).put(KEY, b"x" * (MAX_OBJECT_BYTES + 1))
    assert (refused.value.status, refused.value.code) == (400, "EntityTooLarge")
    assert keys(s3) == []


def test_an_unknown_bucket_is_a_refusal(output_bucket: str, moto_server: str) -> None:
    slot = signed_slot(moto_server)
    store = PresignedPostStore(PostSlot(f"{moto_server}/no-such-bucket", slot.fields, slot.prefix))
    with pytest.raises(WriteRefused) as refused:
        store.put(KEY, b"x")
    assert refused.value.status == 404


def test_transient_failures_are_retried_with_backoff(front: Any, s3: Any) -> None:
    # Given S3 answering 503 twice
    endpoint, state = front
    state.faults = [503, 503]
    sleeps: list[float] = []

    # When a segment is posted
    post_store(endpoint, sleep=sleeps.append).put(KEY, b"abc")

    # Then it is stored on the third attempt, after waiting longer each time
    assert sleeps == [0.2, 0.4]
    assert keys(s3) == [KEY]
    assert len(state.posts) == 1  # the two faults were answered before the form was read


def test_failures_past_the_last_attempt_are_reported(front: Any, s3: Any) -> None:
    endpoint, state = front
    state.faults = [500] * ATTEMPTS
    sleeps: list[float] = []
    with pytest.raises(WriteFailed, match="HTTP 500"):
        post_store(endpoint, sleep=sleeps.append).put(KEY, b"abc")
    assert len(sleeps) == ATTEMPTS - 1
    assert keys(s3) == []


def test_a_store_that_cannot_be_reached_is_retried_then_reported(output_bucket: str) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    slot = signed_slot(f"http://127.0.0.1:{port}")
    sleeps: list[float] = []
    with pytest.raises(WriteFailed, match=r"ConnectionRefused|URLError"):
        PresignedPostStore(slot, sleep=sleeps.append).put(KEY, b"x")
    assert len(sleeps) == ATTEMPTS - 1


def test_the_writer_reports_a_refusal_and_the_reader_keeps_what_was_stored(
    front: Any, s3: Any
) -> None:
    # Given a writer whose slot stops being honoured after its first segment
    endpoint, state = front
    writer = OutputWriter("e1", post_store(endpoint), 1000)
    writer.write("stdout", b"kept\n")
    writer.flush()
    state.faults = [403]

    # When it flushes again
    writer.write("stderr", b"lost\n")
    with pytest.raises(WriteRefused):
        writer.flush()

    # Then the first segment is readable, and no end marker claims the output complete
    page = S3LogReader(s3, CODE_BUCKET).read(execution(), None, 100)
    assert [(c.stream.value, c.data) for c in page.chunks] == [("stdout", b"kept\n")]
    assert end_key("e1") not in keys(s3)


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


def test_the_writer_needs_nothing_beyond_the_standard_library() -> None:
    # Given a fresh interpreter, without site-packages, that imports the writer and poster
    probe = (
        "import sys, json\n"
        "import orchestrator.agent.output_writer, orchestrator.agent.segment_post\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-S", "-c", probe],
        env={"PYTHONPATH": str(Path(output_segments.__file__).parent.parent)},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )

    # Then every module loaded is the standard library's, or the agent's own three
    ours = {"__main__", "orchestrator", "orchestrator.agent", "orchestrator.output_segments"}
    ours |= {"orchestrator.agent.output_writer", "orchestrator.agent.segment_post"}
    foreign = [
        name
        for name in json.loads(loaded.stdout)
        if name not in ours and name.split(".")[0] not in sys.stdlib_module_names
    ]
    assert foreign == []


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
