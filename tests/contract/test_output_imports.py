"""OutputImports contract (`mycli migrate`): imported chunks read back exactly, through the
host's own LogReader, with their streams, timestamps and offsets; the same piece again
changes nothing; other bytes at a stored offset are a Conflict; a gap is refused; `finish`
checks the size and records the log cap once. Log files and S3 segments (moto)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from moto_aws import CODE_BUCKET, REGION
from orchestrator.adapters.aws.s3_logs import S3LogReader
from orchestrator.adapters.aws.s3_output_imports import S3OutputImports
from orchestrator.adapters.local.logfiles import LogFileReader, log_stream_name
from orchestrator.adapters.local.output_imports import LocalOutputImports
from orchestrator.domain.errors import Conflict, ValidationFailed
from orchestrator.domain.imports import MAX_IMPORT_CHUNKS, MAX_IMPORT_OUTPUT_BYTES
from orchestrator.domain.models import Execution, ExecutionStatus, LogChunk, LogStream
from orchestrator.output_segments import MAX_CHUNKS_PER_SEGMENT, MAX_SEGMENT_BYTES

T1, T2 = "2025-03-01T10:00:00.125Z", "2025-03-01T10:00:01.500Z"


@dataclass
class Imports:
    store: Any
    reader: Any


def local(request: pytest.FixtureRequest, tmp_path: Path) -> Imports:
    return Imports(LocalOutputImports(tmp_path / "logs"), LogFileReader(tmp_path / "logs"))


def s3(request: pytest.FixtureRequest, tmp_path: Path) -> Imports:
    request.getfixturevalue("aws")
    client = boto3.client("s3", region_name=REGION)
    return Imports(S3OutputImports(client, CODE_BUCKET), S3LogReader(client, CODE_BUCKET))


BACKENDS = {"files": local, "s3": s3}


@pytest.fixture(params=sorted(BACKENDS))
def imports(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Imports]:
    yield BACKENDS[request.param](request, tmp_path)


def finished(execution_id: str = "e1", truncated_at: int | None = None) -> Execution:
    return Execution(
        execution_id=execution_id,
        user_email="a@x.io",
        command="x",
        status=ExecutionStatus.SUCCEEDED,
        started_at="2025-03-01T10:00:00.000Z",
        finished_at="2025-03-01T10:00:02.000Z",
        timeout_seconds=60,
        log_stream_name=log_stream_name(execution_id),
        log_truncated_at=truncated_at,
    )


FIRST = [
    LogChunk(0, LogStream.STDOUT, T1, b"out\r\n"),
    LogChunk(5, LogStream.STDERR, T1, b"\xff\xfeerr"),
]
SECOND = [LogChunk(10, LogStream.STDOUT, T2, b"tail, no newline")]


def test_imported_chunks_read_back_exactly_with_streams_and_times(imports: Imports) -> None:
    assert imports.store.put_chunks("e1", FIRST) == 10
    assert imports.store.put_chunks("e1", SECOND) == 26
    imports.store.finish("e1", 26, None)

    page = imports.reader.read(finished(), None, 1000)

    assert page.chunks == [*FIRST, *SECOND]
    assert page.at_end and page.truncated_at is None


def test_the_same_piece_again_changes_nothing_and_other_bytes_there_are_a_conflict(
    imports: Imports,
) -> None:
    imports.store.put_chunks("e1", FIRST)
    imports.store.put_chunks("e1", SECOND)

    assert imports.store.put_chunks("e1", FIRST) == 26
    with pytest.raises(Conflict):
        imports.store.put_chunks("e1", [LogChunk(0, LogStream.STDOUT, T1, b"OUT\r\n")])
    imports.store.finish("e1", 26, None)
    imports.store.finish("e1", 26, None)  # again: no change

    assert imports.reader.read(finished(), None, 1000).chunks == [*FIRST, *SECOND]


def test_a_gap_and_a_short_finish_are_refused(imports: Imports) -> None:
    with pytest.raises(ValidationFailed):
        imports.store.put_chunks("e1", SECOND)  # starts at 10, nothing stored
    imports.store.put_chunks("e1", FIRST)
    with pytest.raises(ValidationFailed):
        imports.store.finish("e1", 26, None)


def test_the_log_cap_is_recorded_once_and_a_different_end_is_a_conflict(
    imports: Imports,
) -> None:
    imports.store.put_chunks("e1", FIRST)
    imports.store.finish("e1", 10, 10)
    imports.store.finish("e1", 10, 10)

    with pytest.raises(Conflict):
        imports.store.finish("e1", 10, None)
    assert imports.reader.read(finished(truncated_at=10), None, 1000).truncated_at == 10


def test_an_empty_output_finishes_at_zero(imports: Imports) -> None:
    imports.store.finish("e2", 0, None)

    page = imports.reader.read(finished("e2"), None, 1000)

    assert page.chunks == [] and page.at_end


def test_one_import_request_fits_one_aws_output_segment() -> None:
    assert MAX_IMPORT_OUTPUT_BYTES <= MAX_SEGMENT_BYTES
    assert MAX_IMPORT_CHUNKS <= MAX_CHUNKS_PER_SEGMENT
