"""Waiting in a lock's queue: `mycli exec --lock L --wait-lock DURATION` answered QUEUED.

The server keeps the queue and starts the run when its turn comes; mycli polls
GET /executions/{id} about once a second and shows ONE stderr line with the position and
the holder (on a terminal rewritten in place; otherwise a new line only when the position
or the holder changes, so a CI log gets a line per change, not one per poll). No click
here: the plain `mycli exec` path imports this too."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Any

from mycli.client import api_path
from mycli.times import parse_time as moment

POLL_SECONDS = 1.0
ERASE_LINE = "\r\x1b[K"  # back to the line's start, clear to its end
SHORT_ID_LENGTH = 8
MAX_REASON_LENGTH = 60


def ordinal(number: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st, 102nd."""
    if 10 <= number % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def short_duration(seconds: float) -> str:
    """Compact, the largest two units: 45s, 4m, 1h5m, 2d3h (a negative span is 0s)."""
    whole = max(int(seconds), 0)
    if whole < 60:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minute = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minute}m" if minute else f"{hours}h"
    days, hour = divmod(hours, 24)
    return f"{days}d{hour}h" if hour else f"{days}d"


def printable(value: Any, limit: int | None = None) -> str:
    """Server text made safe for one terminal line: control characters (escape sequences,
    newlines) become spaces; cut to `limit` characters with an ellipsis."""
    text = "".join(ch if ch.isprintable() else " " for ch in str(value))
    if limit is not None and len(text) > limit:
        return text[: limit - 1] + "…"
    return text


def short_id(execution_id: Any) -> str:
    text = printable(execution_id)
    return text if len(text) <= SHORT_ID_LENGTH + 1 else text[:SHORT_ID_LENGTH] + "…"


def time_left(until: Any, now: datetime) -> str | None:
    """How long until the ISO time `until`, in whole minutes rounded up past the first
    (34m59s left reads "35m"); None once it has passed or when it is not a time."""
    end = moment(until)
    if end is None:
        return None
    left = (end - now).total_seconds()
    if left < 1:
        return None
    return short_duration(-(-left // 60) * 60 if left >= 60 else left)


def describe_holder(holder: dict[str, Any] | None, now: datetime) -> str:
    """`alice@example.com's run 3f2a… (RUNNING for 4m)` or `a hold by bob@example.com:
    "incident 42" (ends in 35m)`; the lock's holder object as the API gives it."""
    if not holder:
        return "the lock is free: starting soon"
    user = printable(holder.get("user_email") or "someone")
    if holder.get("kind") == "hold":
        reason = printable(holder.get("reason") or "", MAX_REASON_LENGTH)
        left = time_left(holder.get("until"), now)
        ends = f" (ends in {left})" if left else ""
        return f'a hold by {user}: "{reason}"{ends}'
    status = printable(holder.get("status") or "holding it")
    since = moment(holder.get("since"))
    running = f" for {short_duration((now - since).total_seconds())}" if since else ""
    return f"{user}'s run {short_id(holder.get('execution_id'))} ({status}{running})"


def position_line(queue: dict[str, Any], now: datetime) -> str:
    """`mycli: queued for 'L': 2nd in line, behind alice@example.com's run 3f2a…
    (RUNNING for 4m)`: a QUEUED execution's `queue` field, as one line."""
    lock = printable(queue.get("lock_name", "?"))
    position = queue.get("position")
    place = f"{ordinal(position)} in line" if isinstance(position, int) else "in line"
    holder = queue.get("holder")
    if not holder:
        return f"mycli: queued for '{lock}': {place}, {describe_holder(None, now)}"
    return f"mycli: queued for '{lock}': {place}, behind {describe_holder(holder, now)}"


def line_state(queue: dict[str, Any]) -> tuple[Any, ...]:
    """What a new line (off a terminal) is printed for: the position and who holds the lock,
    not the clock."""
    holder = queue.get("holder") or {}
    return (
        queue.get("position"),
        holder.get("kind"),
        holder.get("execution_id"),
        holder.get("status"),
        holder.get("reason"),
    )


class StatusLine:
    """One line of mycli's on stderr: on a terminal rewritten in place (cut to its width),
    elsewhere a new line only when its state changes."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._tty = _is_tty(self._stream)
        self._shown: str | None = None
        self._state: tuple[Any, ...] | None = None

    def show(self, text: str, state: tuple[Any, ...]) -> None:
        if self._tty:
            text = text[: _width(self._stream) - 1]
            if text != self._shown:
                self._stream.write(ERASE_LINE + text)
                self._stream.flush()
        elif state != self._state:
            self._stream.write(text + "\n")
            self._stream.flush()
        self._shown, self._state = text, state

    def end(self) -> None:
        """Leave the rewritten line for good (the next message starts on its own line)."""
        if self._tty and self._shown is not None:
            self._stream.write("\n")
            self._stream.flush()
        self._shown = None


def _is_tty(stream: IO[str]) -> bool:
    try:
        return os.isatty(stream.fileno())
    except (AttributeError, ValueError, OSError):
        return False


def _width(stream: IO[str]) -> int:
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        columns = 0
    return columns or 80  # 0: a terminal that does not say


def wait_in_queue(
    client: Any,
    execution: dict[str, Any],
    line: StatusLine,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, Any]:
    """Poll a QUEUED execution about once a second, showing its place on `line`, until it
    leaves the queue; returns the execution as it is then."""
    path = api_path("executions", execution["execution_id"])
    while execution.get("status") == "QUEUED":
        queue = execution.get("queue")
        if isinstance(queue, dict):
            line.show(position_line(queue, clock()), line_state(queue))
        sleep(POLL_SECONDS)
        execution = client.get(path, following=True)
    return execution
