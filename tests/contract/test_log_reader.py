"""LogReader contract: from the start, paging with an opaque cursor, missing stream."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.adapters.local.logfiles import LogFileReader, LogFileWriter
from orchestrator.domain.errors import ValidationFailed
from orchestrator.domain.models import Execution, ExecutionStatus


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


@pytest.fixture
def reader(tmp_path: Path) -> LogFileReader:
    writer = LogFileWriter(tmp_path / "e1.log")
    for n in range(5):
        writer.write(f"2026-01-01T00:00:0{n}.000Z", f"line {n} ü".encode())
    writer.close()
    return LogFileReader(tmp_path)


def test_events_are_read_from_the_start_in_pages(reader: LogFileReader) -> None:
    first = reader.read(execution("e1.log"), None, 2)
    second = reader.read(execution("e1.log"), first.next_cursor, 2)
    third = reader.read(execution("e1.log"), second.next_cursor, 2)
    end = reader.read(execution("e1.log"), third.next_cursor, 2)

    messages = [e.message for page in (first, second, third) for e in page.events]
    assert messages == [f"line {n} ü" for n in range(5)]
    assert first.events[0].timestamp == "2026-01-01T00:00:00.000Z"
    assert end.events == []
    assert end.next_cursor == third.next_cursor


def test_a_stream_that_does_not_exist_yet_is_an_empty_page(reader: LogFileReader) -> None:
    page = reader.read(execution("later.log"), None, 10)
    assert (page.events, page.next_cursor) == ([], "0")


def test_a_half_written_line_waits_for_its_end(tmp_path: Path) -> None:
    (tmp_path / "e1.log").write_bytes(
        b"2026-01-01T00:00:00.000Z whole\n2026-01-01T00:00:01.000Z ha"
    )
    page = LogFileReader(tmp_path).read(execution("e1.log"), None, 10)
    assert [e.message for e in page.events] == ["whole"]


def test_a_foreign_cursor_is_a_validation_error(reader: LogFileReader) -> None:
    with pytest.raises(ValidationFailed):
        reader.read(execution("e1.log"), "abc", 10)


def test_stream_names_cannot_escape_the_log_directory(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("2026-01-01T00:00:00.000Z top secret\n")
    logs = tmp_path / "logs"
    logs.mkdir()
    assert LogFileReader(logs).read(execution("../secret"), None, 10).events == []
