"""The logs route's binary page: the server's encoding (orchestrator.api.log_pages) read back
by the CLI (mycli.log_pages), byte for byte, and what the CLI refuses to read."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from mycli.errors import ApiError
from mycli.log_pages import binary_page as read_binary
from mycli.log_pages import json_page
from orchestrator.api.log_pages import binary_page, wants_binary
from orchestrator.domain.models import Execution, ExecutionStatus, LogChunk, LogPage, LogStream

STAMP = "2026-01-01T00:00:00.250Z"


def execution(status: ExecutionStatus = ExecutionStatus.RUNNING) -> Execution:
    return Execution("e1", "a@example.com", "cmd", status, STAMP, 60)


def test_a_page_comes_back_with_its_streams_offsets_and_exact_bytes() -> None:
    # Given output with a carriage return, invalid UTF-8 on stderr and an unfinished line
    chunks = [
        LogChunk(10, LogStream.STDOUT, STAMP, b"a\r\n"),
        LogChunk(13, LogStream.STDERR, STAMP, b"\xff\xfe"),
        LogChunk(15, LogStream.STDOUT, "2026-01-01T00:00:01.000Z", b"no newline"),
    ]
    page = LogPage(chunks, next_cursor="25", at_end=True, complete=False, truncated_at=None)

    # When the server encodes it and the CLI reads it
    read = read_binary(binary_page(execution(), page))

    # Then every chunk is the same, and so are the page's fields
    assert [(c.offset, c.stream, c.timestamp, bytes(c.data)) for c in read.chunks] == [
        (c.offset, c.stream.value, c.timestamp, c.data) for c in chunks
    ]
    assert (read.next_cursor, read.status, read.complete, read.truncated_at) == (
        "25",
        "RUNNING",
        False,
        None,
    )
    assert read.size == 15


def test_an_empty_complete_page_starts_at_its_cursor_and_carries_the_truncation() -> None:
    page = LogPage([], next_cursor="4096", at_end=True, complete=True, truncated_at=4096)

    body = binary_page(execution(ExecutionStatus.SUCCEEDED), page)

    head = json.loads(body.split(b"\n")[0])
    assert (head["offset"], head["chunks"], head["truncated_at"]) == (4096, [], 4096)
    read = read_binary(body)
    assert (read.chunks, read.complete, read.status) == ([], True, "SUCCEEDED")


def test_the_cli_reads_how_the_run_ended_from_a_page_that_says_so() -> None:
    # Given a finished execution's record with its exit code and reason
    ended = replace(execution(ExecutionStatus.FAILED), exit_code=3, reason="exited with code 3")
    page = LogPage([], next_cursor="0", at_end=True, complete=True)

    # When the server encodes its last page and the CLI reads it
    read = read_binary(binary_page(ended, page))

    # Then the page carries the execution's end as GET /executions/{id} would
    assert read.ending == {"status": "FAILED", "exit_code": 3, "reason": "exited with code 3"}


@pytest.mark.parametrize(
    "fields",
    [
        {},  # an older server: neither field
        {"reason": None},  # only one of them
        {"exit_code": "3", "reason": None},  # not a number
        {"exit_code": True, "reason": None},  # a bool is not an exit code
        {"exit_code": 3, "reason": 7},  # not text
    ],
)
def test_a_page_without_a_readable_ending_leaves_it_to_a_status_read(
    fields: dict[str, object],
) -> None:
    page = {"chunks": [], "next_cursor": "0", "status": "FAILED", "complete": True} | fields

    assert json_page(page).ending is None


@pytest.mark.parametrize(
    ("accept", "binary"),
    [
        ("application/octet-stream", True),
        ("application/json, application/octet-stream;q=0.5", True),
        ("Application/Octet-Stream ; charset=x", True),
        ("application/octet-stream;q=0", False),
        ("application/octet-stream;q=zero", False),
        ("application/json", False),
        ("*/*", False),
        ("", False),
        (None, False),
    ],
)
def test_only_an_accept_naming_octet_stream_gets_the_binary_page(
    accept: str | None, binary: bool
) -> None:
    assert wants_binary(accept) is binary


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"no head line",
        b"not json\nxx",
        b'{"v":2,"offset":0,"chunks":[],"next_cursor":"0","status":"RUNNING",'
        b'"complete":false,"truncated_at":null}\n',
        b'{"v":1,"offset":0,"chunks":[["stdout","t",3]],"next_cursor":"3",'
        b'"status":"RUNNING","complete":false,"truncated_at":null}\nab',
        b'{"v":1,"offset":0,"chunks":[["stdout","t",1]],"next_cursor":"3",'
        b'"status":"RUNNING","complete":false,"truncated_at":null}\nabc',
        b'{"v":1,"offset":0,"chunks":[["stdout","t",-1]],"next_cursor":"0",'
        b'"status":"RUNNING","complete":false,"truncated_at":null}\n',
        b'{"v":1,"offset":0,"chunks":[["stdout"]],"next_cursor":"0",'
        b'"status":"RUNNING","complete":false,"truncated_at":null}\n',
        b'{"v":1,"offset":0,"chunks":[]}\n',
        b"[1]\n",
    ],
)
def test_a_body_that_is_not_a_binary_page_is_refused_not_written(body: bytes) -> None:
    with pytest.raises(ApiError) as refused:
        read_binary(body)
    assert refused.value.code == "bad_response"
