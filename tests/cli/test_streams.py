"""Writing chunks to the right stream, and the follower's stop and polling rules (a scripted
client plays the server: it is the CLI's own logic under test here)."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest

from mycli import follow
from mycli.follow import LogFollower
from mycli.log_pages import Chunk
from mycli.streams import ChunkWriter, JsonChunkWriter


def chunk(data: bytes, stream: str = "stdout", offset: int = 0) -> dict[str, Any]:
    return {
        "offset": offset,
        "stream": stream,
        "timestamp": "2026-01-01T00:00:00.000Z",
        "data": base64.b64encode(data).decode(),
    }


def raw(data: bytes, stream: str = "stdout", offset: int = 0) -> Chunk:
    return Chunk(offset, stream, "2026-01-01T00:00:00.000Z", memoryview(data))


def page(*chunks: dict[str, Any], complete: bool = False, cursor: str = "c") -> dict[str, Any]:
    return {
        "chunks": list(chunks),
        "next_cursor": cursor,
        "status": "SUCCEEDED" if complete else "RUNNING",
        "complete": complete,
        "truncated_at": None,
    }


class ScriptedClient:
    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = pages
        self.queries: list[dict[str, Any]] = []
        self.accepts: list[str] = []

    def get(
        self, path: str, *, following: bool = False, accept: str = "", **query: Any
    ) -> dict[str, Any]:
        self.accepts.append(accept)
        self.queries.append(query)
        return self.pages.pop(0)


def test_each_stream_gets_its_own_bytes_and_combined_goes_to_stdout() -> None:
    out, err = io.BytesIO(), io.BytesIO()
    writer = ChunkWriter(out, err)

    for item in [raw(b"a\r"), raw(b"\xff", "stderr"), raw(b"b", "combined")]:
        writer(item)

    assert (out.getvalue(), err.getvalue()) == (b"a\rb", b"\xff")


def test_json_gives_one_object_per_chunk() -> None:
    out = io.StringIO()
    JsonChunkWriter(out)(raw(b"x", "stderr", 7))

    assert json.loads(out.getvalue()) == chunk(b"x", "stderr", 7)


class FakeTime:
    """A clock that only sleeping moves (the server here answers in no time)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def follower(client: ScriptedClient, fake: FakeTime, seen: list[bytes]) -> LogFollower:
    return LogFollower(
        client,
        "e1",
        lambda c: seen.append(bytes(c.data)),
        clock=fake.clock,
        sleep=fake.sleep,
    )


def test_the_follower_stops_only_when_complete_and_backs_off_on_instant_empty_pages() -> None:
    # Given a server that answers empty pages at once (as on AWS), then output, then the end
    fake = FakeTime()
    client = ScriptedClient(
        [page(), page(), page(), page(chunk(b"hi")), page(), page(complete=True, cursor="2")]
    )
    seen: list[bytes] = []

    # When it is followed
    status = follower(client, fake, seen).run()

    # Then polling backs off while idle, resets after output, and ends at `complete`
    assert (status, seen) == ("SUCCEEDED", [b"hi"])
    assert fake.sleeps == [0.25, 0.5, 1.0, 0.25]
    assert all(query["wait"] == follow.WAIT_SECONDS for query in client.queries)


def test_while_output_flows_polls_keep_the_minimum_interval_after_a_burst() -> None:
    # Given a server that has new output at every poll, at once
    fake = FakeTime()
    pages = [page(chunk(b"%d\n" % n)) for n in range(40)]
    client = ScriptedClient([*pages, page(complete=True)])
    seen: list[bytes] = []

    # When it is followed
    follower(client, fake, seen).run()

    # Then the first polls go at once, and then one every 0.25 s: 41 polls take 9.25 s
    assert seen == [b"%d\n" % n for n in range(40)]
    burst = follow.POLL_BURST
    assert fake.sleeps == [follow.MIN_POLL_INTERVAL_SECONDS] * (41 - burst)
    assert fake.now == pytest.approx((41 - burst) * 0.25)


def test_a_short_run_waits_for_nothing() -> None:
    # Given output, then the end (`mycli exec -- echo hi`)
    fake = FakeTime()
    client = ScriptedClient([page(chunk(b"hi\n")), page(complete=True)])

    follower(client, fake, []).run()

    assert fake.sleeps == []


def test_a_full_page_is_followed_at_once() -> None:
    # Given a backlog: full 1 MiB pages, then the rest
    fake = FakeTime()
    full = b"x" * follow.FULL_PAGE_BYTES
    client = ScriptedClient([page(chunk(full)) for _ in range(10)] + [page(complete=True)])
    seen: list[bytes] = []

    # When it is followed
    follower(client, fake, seen).run()

    # Then the pages come back to back: the bytes, not the clock, set the pace
    assert b"".join(seen) == full * 10
    assert fake.sleeps == []


def test_without_follow_an_empty_page_of_a_running_execution_ends_the_read() -> None:
    client = ScriptedClient([page(chunk(b"so far")), page()])

    status = LogFollower(client, "e1", lambda c: None).run(follow=False)

    assert status == "RUNNING"
    assert client.queries[0] == {"cursor": None, "wait": None}
    assert client.accepts == ["application/octet-stream"] * 2
