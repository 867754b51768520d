"""`mycli locks list` and `mycli locks history` for people: a block per lock (its holder,
since and until when, then its queue as a table), and the history as one table. Pure
functions of the API's answers and the time now; JSON output shows the answers as they are."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mycli.lock_wait import printable
from mycli.output import ago, duration, table_lines, until
from mycli.times import parse_time as moment

QUEUE_COLUMNS = (
    ("POSITION", "position"),
    ("EXECUTION", "execution_id"),
    ("USER", "user_email"),
    ("WAITED", "waited"),
    ("GIVES UP", "gives_up"),
)
HISTORY_COLUMNS = (
    ("AT", "at_ago"),
    ("LOCK", "lock_name"),
    ("ACTION", "action"),
    ("BY", "user_email"),
    ("HOLDER", "holder"),
    ("REASON", "reason"),
)
MAX_REASON_IN_LIST = 80


def holder_text(holder: dict[str, Any] | None) -> str:
    """`run 01J… by alice@example.com (RUNNING)`, `hold by bob@example.com: "incident 42"`,
    or `free` (a lock listed for its queue alone, between two holders)."""
    if not holder:
        return "free (the next in line starts soon)"
    user = printable(holder.get("user_email") or "someone")
    if holder.get("kind") == "hold":
        reason = printable(holder.get("reason") or "", MAX_REASON_IN_LIST)
        return f'hold by {user}: "{reason}"'
    status = printable(holder.get("status") or "?")
    return f"run {printable(holder.get('execution_id'))} by {user} ({status})"


def lock_block(lock: dict[str, Any], now: datetime) -> list[str]:
    """One lock: a line naming it, its holder, since and until when; then who waits."""
    holder = lock.get("holder")
    head = f"{printable(lock.get('name'))}: {holder_text(holder)}"
    if holder:
        since, ends = ago(holder.get("since"), now), until(holder.get("until"), now)
        head += f", since {since}" if since else ""
        head += f", until {ends}" if ends else ""
    queue = [queue_row(entry, now) for entry in lock.get("queue") or []]
    if not queue:
        return [head, "  nobody waiting"]
    return [head, *(f"  {line}" for line in table_lines(queue, QUEUE_COLUMNS))]


def queue_row(entry: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        **{key: printable(value) for key, value in entry.items() if isinstance(value, str)},
        "position": entry.get("position"),
        "waited": duration(entry.get("queued_at"), None, now),
        "gives_up": until(entry.get("wait_until"), now),
    }


def locks_lines(locks: list[dict[str, Any]], now: datetime | None = None) -> list[str]:
    """Every lock's block, a blank line between two; none when nothing is held or waited for."""
    at = now or datetime.now(UTC)
    lines: list[str] = []
    for lock in locks:
        if lines:
            lines.append("")
        lines += lock_block(lock, at)
    return lines


def history_rows(items: list[dict[str, Any]], now: datetime | None = None) -> list[dict[str, Any]]:
    """History entries with the table's columns: when (relative), and whose hold or run."""
    at = now or datetime.now(UTC)
    rows = []
    for item in items:
        holder_id = item.get("holder_id")
        holder = printable(item.get("holder_email") or "")
        if holder_id:
            holder_id = printable(holder_id)
            holder = f"{holder} ({holder_id})" if holder else holder_id
        rows.append(
            {
                **{key: printable(value) for key, value in item.items() if isinstance(value, str)},
                "at_ago": ago(item.get("at"), at) if moment(item.get("at")) else item.get("at"),
                "holder": holder or None,
            }
        )
    return rows
