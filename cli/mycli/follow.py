"""Following an execution's logs until it finishes, and what its end means as an exit code."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from mycli import exitcodes
from mycli.client import api_path
from mycli.streams import start_own_line, truncation_note

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"})
# How long the server may hold a page with nothing new (the local server waits; AWS does not).
WAIT_SECONDS = 20
# When the server answers an empty page at once (AWS), poll at this adaptive pace.
POLL_MIN_SECONDS = 0.25
POLL_MAX_SECONDS = 2.0
# An empty page answered faster than this did not wait for output.
ANSWERED_AT_ONCE_SECONDS = 0.2


class LogFollower:
    """Feeds an execution's log chunks to `on_chunk`, remembering where it got to, so a
    follow interrupted by Ctrl-C resumes without repeating output."""

    def __init__(
        self, client: Any, execution_id: str, on_chunk: Callable[[dict[str, Any]], None]
    ) -> None:
        self._client = client
        self._execution_id = execution_id
        self._on_chunk = on_chunk
        self.cursor: str | None = None
        self.truncated_at: int | None = None

    def run(self, *, follow: bool = True) -> str:
        """Read to the end of the log; with `follow`, until the server says the log is
        `complete` (the execution finished and every byte was read). Returns the last status
        seen. A truncated log is said once on stderr at the end."""
        status = self._run(follow)
        if self.truncated_at is not None:
            start_own_line()
            print(truncation_note(self.truncated_at), file=sys.stderr, flush=True)
        return status

    def _run(self, follow: bool) -> str:
        delay = POLL_MIN_SECONDS
        while True:
            started = time.monotonic()
            page = self._client.get(
                api_path("executions", self._execution_id, "logs"),
                following=follow,
                cursor=self.cursor,
                wait=WAIT_SECONDS if follow else None,
            )
            for chunk in page["chunks"]:
                self._on_chunk(chunk)
            self.cursor = page["next_cursor"]
            self.truncated_at = page.get("truncated_at")
            if page["complete"] or (not follow and not page["chunks"]):
                return str(page["status"])
            if page["chunks"]:
                delay = POLL_MIN_SECONDS
            elif time.monotonic() - started < ANSWERED_AT_ONCE_SECONDS:
                time.sleep(delay)
                delay = min(delay * 2, POLL_MAX_SECONDS)


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
