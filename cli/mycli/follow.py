"""Following an execution's logs until it finishes, and what its end means as an exit code."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from mycli import exitcodes

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"})
PAGE_LIMIT = 1000
POLL_MIN_SECONDS = 0.05
POLL_MAX_SECONDS = 1.0


class LogFollower:
    """Feeds an execution's log events to `on_event`, remembering where it got to, so a
    follow interrupted by Ctrl-C resumes without repeating lines."""

    def __init__(
        self, client: Any, execution_id: str, on_event: Callable[[dict[str, str]], None]
    ) -> None:
        self._client = client
        self._execution_id = execution_id
        self._on_event = on_event
        self.cursor: str | None = None

    def run(self, *, follow: bool = True) -> str:
        """Read to the end of the log; with `follow`, poll until the execution has finished
        and its last line was read. Returns the last status seen.

        The server reads the status before the log page, so a page that comes with a
        terminal status and is not full holds the end of the log."""
        delay = POLL_MIN_SECONDS
        while True:
            page = self._client.get(
                f"/executions/{self._execution_id}/logs", cursor=self.cursor, limit=PAGE_LIMIT
            )
            events = page["events"]
            for event in events:
                self._on_event(event)
            self.cursor = page["next_cursor"]
            full = len(events) >= PAGE_LIMIT
            if not full and (page["status"] in TERMINAL or not follow):
                return str(page["status"])
            if full:
                continue
            if events:
                delay = POLL_MIN_SECONDS
            time.sleep(delay)
            delay = min(delay * 1.5, POLL_MAX_SECONDS)


def exit_code_of(execution: dict[str, Any]) -> int:
    """0 on success, the command's own code on failure, 124 timeout, 130 cancel,
    125 when the command never ran to an exit code of its own."""
    status = execution["status"]
    if status == "SUCCEEDED":
        return exitcodes.OK
    if status == "TIMED_OUT":
        return exitcodes.EXEC_TIMED_OUT
    if status == "CANCELLED":
        return exitcodes.EXEC_CANCELLED
    code = execution.get("exit_code")
    if isinstance(code, int) and 0 < code < 256:
        return code
    return exitcodes.EXEC_COULD_NOT_RUN
