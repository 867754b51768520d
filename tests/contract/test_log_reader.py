"""LogReader contract: from the start, paging with an opaque cursor, a stream that does not
exist yet, and a follower polling at the end - for log files and CloudWatch Logs (moto)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from moto_aws import REGION
from orchestrator.adapters.aws.cloudwatch import CloudWatchLogReader
from orchestrator.adapters.local.logfiles import LogFileReader, LogFileWriter
from orchestrator.domain.errors import ValidationFailed
from orchestrator.domain.models import Execution, ExecutionStatus, utc_iso

Writer = Callable[[str, list[str]], None]


@dataclass
class LogHarness:
    reader: Any
    write: Writer  # (stream, messages): append to the stream, creating it if needed
    stream: str


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
    def write(stream: str, messages: list[str]) -> None:
        writer = LogFileWriter(tmp_path / stream)
        for message in messages:
            writer.write(utc_iso(datetime.now(UTC)), message.encode())
        writer.close()

    yield LogHarness(LogFileReader(tmp_path), write, "e1.log")


def cloudwatch_logs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LogHarness]:
    settings = request.getfixturevalue("aws")
    logs = boto3.client("logs", region_name=REGION)
    created: set[str] = set()

    def write(stream: str, messages: list[str]) -> None:
        if stream not in created:
            logs.create_log_stream(logGroupName=settings.log_group, logStreamName=stream)
            created.add(stream)
        now = int(datetime.now(UTC).timestamp() * 1000)
        logs.put_log_events(
            logGroupName=settings.log_group,
            logStreamName=stream,
            logEvents=[{"timestamp": now, "message": m} for m in messages],
        )

    yield LogHarness(CloudWatchLogReader(logs, settings.log_group), write, "exec/command/task1")


READERS = {"files": local_logs, "cloudwatch": cloudwatch_logs}


@pytest.fixture(params=sorted(READERS))
def logs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LogHarness]:
    yield from READERS[request.param](request, tmp_path)


def test_events_are_read_from_the_start_in_pages(logs: LogHarness) -> None:
    logs.write(logs.stream, [f"line {n} ü" for n in range(5)])
    target = execution(logs.stream)

    messages, cursor = [], None
    for _ in range(3):
        page = logs.reader.read(target, cursor, 2)
        messages += [e.message for e in page.events]
        cursor = page.next_cursor
    end = logs.reader.read(target, cursor, 2)

    assert messages == [f"line {n} ü" for n in range(5)]
    assert end.events == []
    assert page.events[0].timestamp.endswith("Z")


def test_a_follower_at_the_end_sees_new_lines_once(logs: LogHarness) -> None:
    logs.write(logs.stream, ["one", "two"])
    target = execution(logs.stream)
    first = logs.reader.read(target, None, 100)

    idle = logs.reader.read(target, first.next_cursor, 100)
    again = logs.reader.read(target, idle.next_cursor, 100)
    logs.write(logs.stream, ["three"])
    fresh = logs.reader.read(target, again.next_cursor, 100)
    after = logs.reader.read(target, fresh.next_cursor, 100)

    assert [e.message for e in first.events] == ["one", "two"]
    assert idle.events == [] and again.events == []
    assert [e.message for e in fresh.events] == ["three"]
    assert after.events == []


def test_a_stream_that_does_not_exist_yet_is_an_empty_page(logs: LogHarness) -> None:
    page = logs.reader.read(execution("not-yet"), None, 10)
    assert page.events == []
    later = logs.reader.read(execution("not-yet"), page.next_cursor, 10)
    assert later.events == []


def test_a_foreign_cursor_is_a_validation_error(logs: LogHarness) -> None:
    logs.write(logs.stream, ["one"])
    with pytest.raises(ValidationFailed):
        logs.reader.read(execution(logs.stream), "abc", 10)


def test_a_half_written_line_waits_for_its_end(tmp_path: Path) -> None:
    (tmp_path / "e1.log").write_bytes(
        b"2026-01-01T00:00:00.000Z whole\n2026-01-01T00:00:01.000Z ha"
    )
    page = LogFileReader(tmp_path).read(execution("e1.log"), None, 10)
    assert [e.message for e in page.events] == ["whole"]


def test_stream_names_cannot_escape_the_log_directory(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("2026-01-01T00:00:00.000Z top secret\n")
    logs_dir = tmp_path / "logs"
    logs_dir.mkdir()
    assert LogFileReader(logs_dir).read(execution("../secret"), None, 10).events == []
