"""Launching a recorded execution: the runner's launch, STARTING recorded with what the
launch holds, and what a launch that blew up leaves behind cleaned up. A queued run is
launched the same way once it got its lock, its inputs resolved again from its record."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import replace

from orchestrator.domain.errors import LaunchFailed, MycliError, NotFound
from orchestrator.domain.models import (
    START_WARM,
    Caller,
    Execution,
    ExecutionRequest,
    ExecutionStatus,
    LaunchResult,
    LaunchSpec,
    Role,
    utc_iso,
)
from orchestrator.domain.outcomes import ABANDONED
from orchestrator.domain.queued_runs import queued_request
from orchestrator.domain.run_inputs import ResolvedInputs, RunInputs, launch_on_image
from orchestrator.ports import Clock, ExecutionStore, LockStore, Metrics, Runner

Status = ExecutionStatus
Finish = Callable[..., Execution | None]
Unseal = Callable[[Execution], dict[str, str]]


class Launcher:
    def __init__(
        self,
        executions: ExecutionStore,
        locks: LockStore,
        runner: Runner,
        clock: Clock,
        metrics: Metrics,
        inputs: RunInputs,
        finish: Finish,
    ) -> None:
        """`finish`: ExecutionService.finish (a failed launch ends the run through it)."""
        self._executions = executions
        self._locks = locks
        self._runner = runner
        self._clock = clock
        self._metrics = metrics
        self._inputs = inputs
        self._finish = finish

    def launch(
        self, execution: Execution, request: ExecutionRequest, resolved: ResolvedInputs
    ) -> Execution:
        """Start the recorded execution; FAILED with the reason when the runner cannot."""
        spec = LaunchSpec(
            execution_id=execution.execution_id,
            command=execution.command,
            env=dict(request.env),
            timeout_seconds=execution.timeout_seconds,
            upload_id=execution.upload_id,
            upload_location=resolved.upload.location if resolved.upload else None,
            stdin_location=resolved.stdin.location if resolved.stdin else None,
            secrets=resolved.secrets.values,
            git=resolved.git,
        )
        spec = launch_on_image(spec, resolved.run_image)
        launched: LaunchResult | None = None
        try:
            try:
                launched = self._runner.launch(spec)
            except LaunchFailed as exc:
                self._metrics.count("FailedToStart")
                failed = self._finish(
                    execution.execution_id, Status.FAILED, reason=f"failed to start: {exc}"
                )
                return failed or execution
            self._metrics.count("ExecutionsStarted")
            self._executions.annotate(
                execution.execution_id,
                task_ref=launched.task_ref,
                log_stream_name=launched.log_stream_name,
                grant_id=launched.grant_id,
                start=launched.start,
            )
            starting = self._executions.advance(
                execution.execution_id, Status.STARTING, updated_at=self._now()
            )
            if starting is not None and launched.start == START_WARM:  # its task runs already
                running = self._executions.advance(
                    execution.execution_id, Status.RUNNING, updated_at=self._now()
                )
                return running or starting
            if starting is not None:
                return starting
            # The runner already reported progress, or a cancel arrived while launching.
            current = self._require(execution.execution_id)
            if current.status is Status.CANCELLING:
                self._runner.stop(current, f"cancelled by {current.cancelled_by}")
            elif current.status.is_terminal:  # it ended before its grant id was stored
                self._runner.release(current)
            return current
        except BaseException:
            self._abandon(execution, launched)
            raise

    def launch_queued(self, execution: Execution, unseal: Unseal) -> None:
        """Launch a QUEUED run that now holds its lock, once (QUEUED -> PENDING is the
        claim), with its inputs resolved again from its record and its env values unsealed."""
        now = self._now()
        pending = self._executions.advance(
            execution.execution_id, Status.PENDING, updated_at=now, dequeued_at=now
        )
        if pending is None:  # claimed by another promoter, or cancelled
            return
        try:
            request = queued_request(pending, unseal(pending))
            caller = Caller(email=pending.user_email, role=Role.USER)
            resolved = self._inputs.resolve(caller, request, pending.execution_id)
        except (MycliError, ValueError) as error:
            message = error.message if isinstance(error, MycliError) else str(error)
            self._finish(pending.execution_id, Status.FAILED, reason=f"failed to start: {message}")
            return
        if pending.sealed_env is not None:
            self._executions.annotate(pending.execution_id, sealed_env=None)
        self.launch(pending, request, resolved)

    def _abandon(self, execution: Execution, launched: LaunchResult | None) -> None:
        """After a recorded execution's launch blew up unexpectedly: stop what may have
        started, record FAILED, and whatever else fails meanwhile, free the lock."""
        try:
            # Best effort: the error that brought us here is the one to report.
            with contextlib.suppress(Exception):
                if launched is not None:
                    self._runner.release(replace(execution, grant_id=launched.grant_id))
                    self._runner.stop(replace(execution, task_ref=launched.task_ref), ABANDONED)
            with contextlib.suppress(Exception):
                self._finish(execution.execution_id, Status.FAILED, reason=ABANDONED)
        finally:
            if execution.lock_name:
                self._locks.release(execution.lock_name, execution.execution_id)

    def _require(self, execution_id: str) -> Execution:
        execution = self._executions.get(execution_id)
        if execution is None:
            raise NotFound(f"execution {execution_id} not found")
        return execution

    def _now(self) -> str:
        return utc_iso(self._clock.now())
