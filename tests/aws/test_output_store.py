"""The AWS output store on moto: the presigned POST policy (S3's checks in front of a moto
server) and the agent's poster: refusals reported, transient failures retried, only the
standard library. What only the S3 LogReader handles is in test_s3_log_reader.py."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from moto_aws import CODE_BUCKET, REGION
from orchestrator import output_segments
from orchestrator.adapters.aws.s3_logs import S3LogReader
from orchestrator.adapters.aws.s3_output import SIGV4, SLOT_MARGIN_SECONDS, output_slot
from orchestrator.agent.output_writer import OutputWriter
from orchestrator.agent.segment_post import (
    ATTEMPTS,
    PostSlot,
    PresignedPostStore,
    WriteFailed,
    WriteRefused,
)
from orchestrator.output_segments import (
    MAX_OBJECT_BYTES,
    end_key,
)
from output_store import execution, post_store, signed_slot

KEY = "runs/e1/output/0000000000000003"
STAMP = b'"2026-01-01T00:00:00.000Z"'


def keys(s3: Any, prefix: str = "runs/") -> list[str]:
    listed = s3.list_objects_v2(Bucket=CODE_BUCKET, Prefix=prefix).get("Contents", [])
    return [item["Key"] for item in listed]


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
