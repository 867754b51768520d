"""The logs route's two representations of one page of output.

JSON (the default): each chunk's bytes as base64. Binary, for `Accept:
application/octet-stream`: one line of JSON, then the chunks' exact bytes back to back:

    {"v":1,"offset":0,"chunks":[["stdout","2026-01-01T00:00:00.250Z",1000]],
     "next_cursor":"1000","status":"RUNNING","complete":false,"truncated_at":null,
     "exit_code":null,"reason":null}\\n<bytes>

The chunk list is the AWS output segment's (`output_segments.py`): stream, timestamp,
length; chunk offsets follow from `offset`. No base64 and no JSON string escaping of the
bytes, so a follower copies them straight to its file. Both hosts serve it through this
router; API Gateway passes the body as binary because the stack lists the media type."""

from __future__ import annotations

import json
from typing import Any

from orchestrator.domain.cursors import parse_offset_cursor
from orchestrator.domain.models import Execution, LogPage

BINARY = "application/octet-stream"
BINARY_VERSION = 1


def wants_binary(accept: str | None) -> bool:
    """Whether an Accept header asks for the binary page: it names application/octet-stream
    (parameters aside) without q=0. Anything else, or nothing, is JSON."""
    for media_range in (accept or "").split(","):
        media_type, *params = (part.strip().lower() for part in media_range.split(";"))
        if media_type != BINARY:
            continue
        quality = next((p[2:].strip() for p in params if p.startswith("q=")), "1")
        try:
            return float(quality) > 0
        except ValueError:
            return False
    return False


def page_fields(execution: Execution, page: LogPage) -> dict[str, Any]:
    """The fields both representations share. `exit_code` and `reason` come from the same
    record as `status`, so the page that is `complete` tells a follower how the run ended
    without another request."""
    return {
        "next_cursor": page.next_cursor,
        "status": execution.status.value,
        "complete": page.complete,
        "truncated_at": page.truncated_at,
        "exit_code": execution.exit_code,
        "reason": execution.reason,
    }


def binary_page(execution: Execution, page: LogPage) -> bytes:
    """The page as one JSON line and the raw bytes (see the module docstring)."""
    start = page.chunks[0].offset if page.chunks else parse_offset_cursor(page.next_cursor)
    head = {
        "v": BINARY_VERSION,
        "offset": start,
        "chunks": [[c.stream.value, c.timestamp, len(c.data)] for c in page.chunks],
        **page_fields(execution, page),
    }
    line = json.dumps(head, separators=(",", ":")).encode() + b"\n"
    return b"".join([line, *(chunk.data for chunk in page.chunks)])
