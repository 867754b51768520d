"""The reaper (AWS, every minute): stop what ran past its deadline, settle executions whose
task has ended without its event being applied, stop tasks that were started but never
recorded, repeat the stop of cancellations, and sweep what launches left behind (AWS: KMS
grants) once no run can need it. Locally the process runner does this work itself."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from orchestrator.domain.executions import TIMEOUT_STOP_PREFIX, ExecutionService
from orchestrator.domain.models import (
    MAX_TIMEOUT_SECONDS,
    Execution,
    ExecutionStatus,
    TaskStateChange,
    parse_iso,
)
from orchestrator.ports import Clock, ExecutionStore, Runner

TASK_LOST_REASON = "task lost"
NEVER_STARTED_REASON = "never started"
NEVER_RECORDED_STOP = "mycli: its execution never recorded this task"
# A PENDING execution without a task is being launched; after this long, it never will be.
LAUNCH_GRACE = timedelta(minutes=5)
# What a launch made is swept once older than the longest timeout and this: by then its run
# was stopped at its deadline, and its end recorded.
LEFTOVER_MARGIN = timedelta(minutes=15)


class TaskInspector(Protocol):
    def ended(self, executions: Sequence[Execution]) -> dict[str, TaskStateChange | None]:
        """Executions whose task has ended: how it ended (exit code included), or None
        when nothing is known of the task any more."""
        ...


class LaunchLeftovers(Protocol):
    def sweep(self, made_before: datetime) -> list[str]:
        """Free what launches made before `made_before` still hold (AWS: runs' KMS grants
        neither the agent nor the run's end freed); the executions they were made for."""
        ...


@dataclass
class ReapReport:
    stopped: list[str] = field(default_factory=list)
    timed_out: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    settled: list[str] = field(default_factory=list)  # from the task's recorded end
    failed: list[str] = field(default_factory=list)  # left for the next run
    swept: list[str] = field(default_factory=list)  # executions whose leftovers were freed
    sweep_failed: bool = False  # left for the next run
    queues_failed: bool = False  # advancing the lock queues failed: left for the next run


class Reaper:
    def __init__(
        self,
        executions: ExecutionStore,
        runner: Runner,
        service: ExecutionService,
        clock: Clock,
        tasks: TaskInspector | None = None,
        leftovers: LaunchLeftovers | None = None,
        max_timeout_seconds: int = MAX_TIMEOUT_SECONDS,
    ) -> None:
        """`max_timeout_seconds`: the longest timeout a run may have (the sweep's age)."""
        self._executions = executions
        self._runner = runner
        self._service = service
        self._clock = clock
        self._tasks = tasks
        self._leftovers = leftovers
        self._leftover_age = timedelta(seconds=max_timeout_seconds) + LEFTOVER_MARGIN

    def run(self) -> ReapReport:
        report = ReapReport()
        active = self._executions.list_active()
        ended = self._ended([e for e in active if e.task_ref])
        for execution in active:
            if execution.status is ExecutionStatus.QUEUED:
                continue  # waits for its lock: the queues' sweep below
            try:
                self._reap(execution, ended, report)
            except Exception:  # one execution's failure must not stop the others
                report.failed.append(execution.execution_id)
        try:
            # Ends expired waits; starts runs whose lock freed without its queue advancing.
            self._service.sweep_queues()
        except Exception:
            report.queues_failed = True
        if self._leftovers is not None:
            try:
                report.swept = self._leftovers.sweep(self._clock.now() - self._leftover_age)
            except Exception:  # nor the sweep's
                report.sweep_failed = True
        return report

    def _ended(self, launched: list[Execution]) -> dict[str, TaskStateChange | None]:
        if not launched:
            return {}
        if self._tasks is not None:
            return self._tasks.ended(launched)
        return dict.fromkeys(self._runner.lost(launched))

    def _reap(
        self,
        execution: Execution,
        ended: dict[str, TaskStateChange | None],
        report: ReapReport,
    ) -> None:
        now = self._clock.now()
        execution_id = execution.execution_id
        overdue = execution.deadline <= now
        if execution_id in ended:
            change = ended[execution_id]
            if change is not None and change.last_status == "STOPPED":
                # Its STOPPED event was lost or failed: settle from the task's own record.
                self._service.on_task_event(change)
                report.settled.append(execution_id)
            elif overdue:
                self._service.finish(
                    execution_id,
                    ExecutionStatus.TIMED_OUT,
                    reason=f"timed out after {execution.timeout_seconds}s",
                )
                report.timed_out.append(execution_id)
            else:
                self._service.finish(execution_id, ExecutionStatus.FAILED, reason=TASK_LOST_REASON)
                report.lost.append(execution_id)
        elif not execution.task_ref:
            if parse_iso(execution.launched_from) + LAUNCH_GRACE <= now:
                # A task may have started without being recorded: stop it before the lock
                # is freed, so nothing runs without its execution and its lock.
                self._runner.stop(execution, NEVER_RECORDED_STOP)
                self._service.finish(
                    execution_id, ExecutionStatus.FAILED, reason=NEVER_STARTED_REASON
                )
                report.lost.append(execution_id)
        elif overdue:
            reason = f"{TIMEOUT_STOP_PREFIX} after {execution.timeout_seconds}s"
            self._runner.stop(execution, reason)
            report.stopped.append(execution_id)
        elif execution.status is ExecutionStatus.CANCELLING:
            # A cancel whose stop failed (or is slow): ask again, every minute.
            self._runner.stop(execution, f"cancelled by {execution.cancelled_by}")
            report.stopped.append(execution_id)
