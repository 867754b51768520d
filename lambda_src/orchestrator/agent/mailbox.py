"""A warm task's wait for its one assignment (docs/warm-runners.md): the agent GETs its
mailbox through a presigned URL every POLL_SECONDS. `{"v": 1, "state": "waiting"}` keeps it
waiting; `{"v": 1, "execution_id", "manifest_url"}` is its run, from there read as a cold
agent reads its overrides. A 403 or 404 (the URL expired, the object is gone), anything
else in the mailbox, the URL's expiry or a stop end the wait with no assignment.
Standard library only: this runs inside the agent's container."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

MAILBOX_VERSION = 1
WAITING = "waiting"
POLL_SECONDS = 0.2
REQUEST_TIMEOUT_SECONDS = 5.0
MAX_MAILBOX_BYTES = 64 * 1024


@dataclass(frozen=True)
class Mailbox:
    url: str
    until: datetime  # aware, UTC: when the URL expires

    @classmethod
    def parse(cls, url: str, until: str) -> Mailbox:
        """From the task's overrides (ValueError: `until` is no UTC ISO 8601 time)."""
        try:
            moment = datetime.fromisoformat(until)
        except ValueError:
            raise ValueError("the mailbox's expiry must be an ISO 8601 time") from None
        if moment.tzinfo is None:
            raise ValueError("the mailbox's expiry must carry its time zone (Z)")
        return cls(url=url, until=moment.astimezone(UTC))


@dataclass(frozen=True)
class Assignment:
    execution_id: str
    manifest_url: str


class NoAssignment(Exception):
    """The wait ended without a run; the message says why."""


def parse_mailbox(raw: bytes) -> Assignment | None:
    """The assignment in `raw`, None while it says `waiting`; NoAssignment for the rest."""
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        raise NoAssignment("the mailbox does not hold JSON") from None
    if not isinstance(document, dict) or document.get("v") != MAILBOX_VERSION:
        raise NoAssignment(f"the mailbox is not version {MAILBOX_VERSION}")
    if document.get("state") == WAITING and "execution_id" not in document:
        return None
    execution_id = document.get("execution_id")
    manifest_url = document.get("manifest_url")
    if not isinstance(execution_id, str) or not execution_id:
        raise NoAssignment("the assignment has no execution id")
    if not isinstance(manifest_url, str) or not manifest_url.startswith(("https://", "http://")):
        raise NoAssignment("the assignment has no manifest URL")
    return Assignment(execution_id=execution_id, manifest_url=manifest_url)


def _read(url: str) -> bytes | None:
    """The mailbox's bytes; None for a failure worth another poll (no connection, a
    timeout, 5xx, 408, 429); NoAssignment for any other refusal (403, 404...)."""
    try:
        request = urllib.request.Request(url, method="GET")
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as answer:
            data: bytes = answer.read(MAX_MAILBOX_BYTES + 1)
    except urllib.error.HTTPError as error:
        error.close()
        if error.code >= 500 or error.code in (408, 429):
            return None
        raise NoAssignment(f"the mailbox answered HTTP {error.code}") from None
    except (urllib.error.URLError, OSError):
        return None
    if len(data) > MAX_MAILBOX_BYTES:
        raise NoAssignment("the mailbox is too large")
    return data


def wait_for_assignment(
    mailbox: Mailbox,
    stopping: threading.Event,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    poll_seconds: float = POLL_SECONDS,
) -> Assignment:
    """Poll until the mailbox holds an assignment (NoAssignment: see the module)."""
    while True:
        if stopping.is_set():
            raise NoAssignment("stopped while waiting")
        if now() >= mailbox.until:
            raise NoAssignment("the mailbox URL expired with no assignment")
        started = time.monotonic()
        raw = _read(mailbox.url)
        if raw is not None:
            assignment = parse_mailbox(raw)
            if assignment is not None:
                return assignment
        stopping.wait(max(0.0, poll_seconds - (time.monotonic() - started)))
