"""A page of an execution's output as the CLI reads it. Asked for as binary (`Accept:
application/octet-stream`: one line of JSON, then the chunks' exact bytes back to back), so
the bytes go to their file as they arrived, with no base64 or JSON string to decode; a
server that answers JSON (chunks as base64) is read too."""

from __future__ import annotations

import base64
import json
from typing import Any, NamedTuple

from mycli.client import BINARY, api_path
from mycli.errors import ApiError

BINARY_VERSION = 1


# NamedTuples, not dataclasses: `dataclasses` imports `inspect`, ~6 ms of `mycli exec`.
class Chunk(NamedTuple):
    """One stream's exact bytes, from byte `offset` of the output."""

    offset: int
    stream: str
    timestamp: str
    data: bytes | memoryview


class Page(NamedTuple):
    chunks: list[Chunk]
    next_cursor: str
    status: str
    complete: bool
    truncated_at: int | None
    # The execution's status, exit_code and reason, when the server sends the last two with
    # the page (older servers do not: then None, and a follower asks for the execution).
    ending: dict[str, Any] | None = None

    @property
    def size(self) -> int:
        """The output bytes the page carries."""
        return sum(len(chunk.data) for chunk in self.chunks)


def read_page(client: Any, execution_id: str, *, following: bool, **query: Any) -> Page:
    """GET the logs route after `query`'s cursor, as binary when the server offers it."""
    answer = client.get(
        api_path("executions", execution_id, "logs"), following=following, accept=BINARY, **query
    )
    return binary_page(answer) if isinstance(answer, bytes) else json_page(answer)


def binary_page(body: bytes) -> Page:
    """A binary page; ApiError `bad_response` when it is not one (nothing is written)."""
    end = body.find(b"\n")
    try:
        head = json.loads(body[:end]) if end >= 0 else None
        if not isinstance(head, dict) or head.get("v") != BINARY_VERSION:
            raise ValueError("not a version 1 page")
        view = memoryview(body)[end + 1 :]
        position, chunks = 0, []
        for stream, timestamp, length in head["chunks"]:
            if not isinstance(length, int) or length < 0:
                raise ValueError("a chunk length is not a count of bytes")
            data = view[position : position + length]
            chunks.append(Chunk(head["offset"] + position, str(stream), str(timestamp), data))
            position += length
        if position != len(view):
            raise ValueError("the chunk lengths do not add up to the bytes sent")
        return Page(
            chunks,
            str(head["next_cursor"]),
            str(head["status"]),
            head["complete"] is True,
            head["truncated_at"],
            ending_of(head),
        )
    except (ValueError, TypeError, KeyError) as error:
        raise ApiError(200, "bad_response", f"unreadable log page: {error}", {}) from None


def json_page(page: dict[str, Any]) -> Page:
    """A JSON page (chunks' data in base64)."""
    chunks = [
        Chunk(c["offset"], c["stream"], c["timestamp"], base64.b64decode(c["data"]))
        for c in page["chunks"]
    ]
    return Page(
        chunks,
        page["next_cursor"],
        page["status"],
        page["complete"],
        page.get("truncated_at"),
        ending_of(page),
    )


def ending_of(fields: dict[str, Any]) -> dict[str, Any] | None:
    """status, exit_code and reason as GET /executions/{id} has them, when the page carries
    all three with the right types; None otherwise (a server older than the fields)."""
    status, code, reason = fields.get("status"), fields.get("exit_code"), fields.get("reason")
    if "exit_code" not in fields or "reason" not in fields or not isinstance(status, str):
        return None
    if not (code is None or (isinstance(code, int) and not isinstance(code, bool))):
        return None
    if not (reason is None or isinstance(reason, str)):
        return None
    return {"status": status, "exit_code": code, "reason": reason}
