"""Reading executions: one record, a page of a listing, a page of output (held for new
output with a wait), always as the caller may see them."""

from __future__ import annotations

from dataclasses import replace

from orchestrator.domain.errors import Forbidden, NotFound, ValidationFailed
from orchestrator.domain.models import (
    MAX_LOG_PAGE_BYTES,
    MAX_LOG_WAIT_SECONDS,
    MAX_PAGE_SIZE,
    Caller,
    Execution,
    ExecutionStatus,
    LogPage,
    Page,
)
from orchestrator.ports import ExecutionStore, LogReader, LogWaiter


class ExecutionReads:
    """The queries of ExecutionService (which hands them on)."""

    def __init__(
        self, executions: ExecutionStore, log_reader: LogReader, log_waiter: LogWaiter
    ) -> None:
        self._executions = executions
        self._log_reader = log_reader
        self._log_waiter = log_waiter

    def get(self, caller: Caller, execution_id: str) -> Execution:
        """The execution, if the caller owns it or is an admin; otherwise it does not exist."""
        execution = self._executions.get(execution_id)
        if execution is None or not (caller.is_admin or execution.user_email == caller.email):
            raise NotFound(f"execution {execution_id} not found")
        return execution

    def list_page(
        self,
        caller: Caller,
        *,
        user: str | None = None,
        status: ExecutionStatus | None = None,
        limit: int = 20,
        cursor: str | None = None,
        include_checks: bool = False,
    ) -> Page:
        """Newest first: a user's own executions, or for an admin everyone's (or `user`'s);
        platform checks (`mycli doctor`'s runs) only with `include_checks`."""
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValidationFailed(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        if not caller.is_admin and user not in (None, caller.email):
            raise Forbidden("only admins can list other users' executions")
        user_email = user if caller.is_admin else caller.email
        return self._executions.list_page(
            user_email=user_email,
            status=status,
            limit=limit,
            cursor=cursor,
            include_checks=include_checks,
        )

    def logs(
        self,
        caller: Caller,
        execution_id: str,
        cursor: str | None = None,
        max_bytes: int = MAX_LOG_PAGE_BYTES,
        wait_seconds: float = 0.0,
    ) -> tuple[Execution, LogPage]:
        """The execution and at most `max_bytes` of its output after `cursor`.

        With `wait_seconds`, a page with nothing new for a running execution is held until
        output arrives or the execution ends (as long as the host allows). The status is read
        before the page, so `complete` (terminal, and the page reached the end) is exact."""
        if not 1 <= max_bytes <= MAX_LOG_PAGE_BYTES:
            raise ValidationFailed(f"max_bytes must be between 1 and {MAX_LOG_PAGE_BYTES}")
        if not 0 <= wait_seconds <= MAX_LOG_WAIT_SECONDS:
            raise ValidationFailed(f"wait must be between 0 and {MAX_LOG_WAIT_SECONDS:g}")
        execution = self.get(caller, execution_id)
        page = self._read_logs(execution, cursor, max_bytes)
        if wait_seconds > 0 and not page.chunks and not execution.status.is_terminal:
            self._log_waiter.wait(execution_id, page.next_cursor, wait_seconds)
            execution = self.get(caller, execution_id)
            page = self._read_logs(execution, cursor, max_bytes)
        truncated_at = (
            page.truncated_at if page.truncated_at is not None else execution.log_truncated_at
        )
        complete = execution.status.is_terminal and page.at_end
        return execution, replace(page, complete=complete, truncated_at=truncated_at)

    def _read_logs(self, execution: Execution, cursor: str | None, max_bytes: int) -> LogPage:
        if not execution.log_stream_name:  # never launched: nothing was ever written
            return LogPage(chunks=[], next_cursor=cursor or "", at_end=True)
        return self._log_reader.read(execution, cursor, max_bytes)
