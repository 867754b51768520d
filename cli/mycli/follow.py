"""Following an execution's logs until it finishes, and what its end means as an exit code."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from mycli import exitcodes
from mycli.log_pages import Chunk, read_page
from mycli.streams import start_own_line, truncation_note

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"})
# How long the server may hold a page with nothing new (the local server waits; AWS does not).
WAIT_SECONDS = 20
# When the server answers an empty page at once (AWS), poll at this adaptive pace.
POLL_MIN_SECONDS = 0.25
POLL_MAX_SECONDS = 2.0
# An empty page answered faster than this did not wait for output.
ANSWERED_AT_ONCE_SECONDS = 0.2
# While output flows, at most one poll per 0.25 s after a burst of 4 (a token bucket, like
# the API stage's own limit). Why 0.25 s: on AWS the run agent stores output at least every
# 250 ms while it flows, so polling faster mostly finds nothing new; one follower then makes
# at most 4 requests/s, so the default stage limit (20/s, burst 40) carries 5 followers
# streaming at once (40 idle ones, at one poll per 2 s). On the embedded server a poll waits
# for output, so lines more than 0.25 s apart still show the moment they are written, faster
# output in batches at most 0.25 s late (the bytes are the same), and the burst keeps a short
# run (`echo hi`: output, then the end) from waiting at all.
MIN_POLL_INTERVAL_SECONDS = 0.25
POLL_BURST = 4
# The server's default page (max_bytes). A full page means more is already stored: the next
# one is asked for at once, so catching up on a backlog runs at the rate bytes move (1 MiB
# per request, as binary: mycli.log_pages), not at the poll pace.
FULL_PAGE_BYTES = 1024 * 1024


class PollPace:
    """A token bucket: `burst` polls at once, then one per `interval` seconds."""

    def __init__(
        self,
        interval: float = MIN_POLL_INTERVAL_SECONDS,
        burst: int = POLL_BURST,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._interval = interval
        self._burst = float(burst)
        self._tokens = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._last = clock()

    def take(self) -> None:
        """Wait (if needed) for the right to poll, and use it."""
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._last) / self._interval)
        self._last = now
        if self._tokens < 1:
            self._sleep((1 - self._tokens) * self._interval)
            self._tokens = 1.0
            self._last = self._clock()
        self._tokens -= 1


class LogFollower:
    """Feeds an execution's log chunks to `on_chunk`, remembering where it got to, so a
    follow interrupted by Ctrl-C resumes without repeating output."""

    def __init__(
        self,
        client: Any,
        execution_id: str,
        on_chunk: Callable[[Chunk], None],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._execution_id = execution_id
        self._on_chunk = on_chunk
        self._clock = clock
        self._sleep = sleep
        self._pace = PollPace(clock=clock, sleep=sleep)
        self.cursor: str | None = None
        self.truncated_at: int | None = None
        # How the execution ended, from the `complete` page, when the server says (Page.ending)
        self.ending: dict[str, Any] | None = None

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
        backlog = False
        while True:
            if not backlog:
                self._pace.take()
            started = self._clock()
            page = read_page(
                self._client,
                self._execution_id,
                following=follow,
                cursor=self.cursor,
                wait=WAIT_SECONDS if follow else None,
            )
            for chunk in page.chunks:
                self._on_chunk(chunk)
            self.cursor = page.next_cursor
            self.truncated_at = page.truncated_at
            if page.complete or (not follow and not page.chunks):
                self.ending = page.ending if page.complete else None
                return page.status
            backlog = page.size >= FULL_PAGE_BYTES
            had_output = bool(page.chunks)
            del page  # its bytes go before the next page's arrive (peak RSS)
            if had_output:
                delay = POLL_MIN_SECONDS
            elif self._clock() - started < ANSWERED_AT_ONCE_SECONDS:
                self._sleep(delay)
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
