"""Creating an execution, up to its PENDING record: the Idempotency-Key's marker (claimed
before anything else), the request's inputs, the quota, the lock, and the record itself,
counted against the quota in the same atomic step. Launching is ExecutionService's."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from orchestrator.domain.admission import Admission
from orchestrator.domain.errors import Conflict, LockHeld, MycliError, ValidationFailed
from orchestrator.domain.idempotency import (
    IdempotencyMarker,
    check_same_request,
    idempotent_execution_id,
    key_reused,
    request_fingerprint,
)
from orchestrator.domain.models import Caller, Execution, ExecutionRequest, utc_iso
from orchestrator.domain.queued_runs import QueuedRuns, check_wait
from orchestrator.domain.run_inputs import ResolvedInputs, RunInputs
from orchestrator.ports import Clock, ExecutionStore, LockStore

if TYPE_CHECKING:
    from orchestrator.domain.executions import ExecutionPolicy

# A marker outlives its create by far; once the execution is recorded, the record answers.
MARKER_LIFETIME = timedelta(days=1)
# How often a repeat looks again for the first request's execution while it waits.
WAIT_STEP_SECONDS = 0.05


@dataclass(frozen=True)
class Admitted:
    """What a create comes to: the execution to answer with and, when it is a new one
    (PENDING, recorded), the inputs its launch needs; None for an earlier execution."""

    execution: Execution
    resolved: ResolvedInputs | None = None


class Creation:
    """The create path of ExecutionService, up to the launch."""

    def __init__(
        self,
        executions: ExecutionStore,
        locks: LockStore,
        clock: Clock,
        policy: ExecutionPolicy,
        admission: Admission,
        inputs: RunInputs,
        new_id: Callable[[], str],
        sleep: Callable[[float], None] = time.sleep,
        queued: QueuedRuns | None = None,
    ) -> None:
        self._executions = executions
        self._locks = locks
        self._clock = clock
        self._policy = policy
        self._admission = admission
        self._inputs = inputs
        self._new_id = new_id
        self._sleep = sleep
        self._queued = queued

    def admit(
        self,
        caller: Caller,
        request: ExecutionRequest,
        request_id: str | None,
        idempotency_key: str | None,
    ) -> Admitted:
        """A new PENDING execution, recorded with its lock taken and its running slot; or,
        for a repeated `idempotency_key`, the execution the key already stands for."""
        if idempotency_key is None:
            return self._record(caller, request, self._new_id(), request_id, None, None)
        execution_id = idempotent_execution_id(caller.email, idempotency_key)
        fingerprint = request_fingerprint(request, execution_id)
        owner = uuid.uuid4().hex
        first = self._claim(execution_id, fingerprint, owner)
        if first is not None:
            return Admitted(first)
        try:
            # Recorded before markers existed, or after its marker expired.
            existing = self._executions.get(execution_id)
            if existing is not None:
                return Admitted(check_same_request(existing, fingerprint))
            return self._record(caller, request, execution_id, request_id, fingerprint, owner)
        except (LockHeld, Conflict) as refused:
            self._executions.release_marker(execution_id, owner)
            return Admitted(self._repeated(execution_id, fingerprint, refused))
        except BaseException:
            # Refused (validation, quota) or failed before anything was recorded: a retry
            # with the same key must not find the key taken.
            self._executions.release_marker(execution_id, owner)
            raise

    def _claim(self, execution_id: str, fingerprint: str, owner: str) -> Execution | None:
        """Claim the key's marker: None once this request holds it. When another request
        holds it, the execution that request made (waiting a moment for it to be
        recorded); 422 when that request was another; 409 when it is still in progress."""
        lease = timedelta(seconds=self._policy.idempotency_lease_seconds)
        waits = int(self._policy.idempotency_wait_seconds / WAIT_STEP_SECONDS)
        for attempt in range(waits + 1):
            now = self._clock.now()
            marker = IdempotencyMarker(
                execution_id, fingerprint, owner, utc_iso(now), utc_iso(now + MARKER_LIFETIME)
            )
            holder = self._executions.claim_marker(marker, stale_before=utc_iso(now - lease))
            if holder is None:
                return None
            first = self._executions.get(execution_id)
            if first is not None:
                return check_same_request(first, fingerprint)
            if holder.fingerprint != fingerprint:
                raise key_reused(execution_id)
            if attempt < waits:
                self._sleep(WAIT_STEP_SECONDS)
        raise Conflict("a request with this Idempotency-Key is in progress")

    def _record(
        self,
        caller: Caller,
        request: ExecutionRequest,
        execution_id: str,
        request_id: str | None,
        fingerprint: str | None,
        owner: str | None,
    ) -> Admitted:
        """Validate, check the quota, take the lock, record PENDING with its running slot.

        Everything that can refuse the request is checked before the lock is taken; after
        that, any failure (the record refused by the quota or the key's marker, storage)
        releases the lock this request took before the error goes out."""
        check_wait(request)
        if request.wait_lock_seconds is not None and self._queued is None:
            raise ValidationFailed("this server has no lock queue: wait_lock_seconds")
        resolved = self._inputs.resolve(caller, request, execution_id)
        execution = resolved.pending_record(
            caller, request, execution_id, utc_iso(self._clock.now()), request_id, fingerprint
        )
        self._admission.admit(caller)
        acquired = queued = False
        try:
            if request.lock:
                try:
                    self._admission.acquire_lock(request.lock, execution)
                    acquired = True
                except LockHeld:
                    if request.wait_lock_seconds is None or self._queued is None:
                        raise
                    lease = execution.timeout_seconds + self._policy.lock_grace_seconds
                    execution = self._queued.enqueue(execution, request, lease)
                    queued = True
            self._executions.create(execution, limits=self._admission.limits, claimed_by=owner)
        except BaseException:
            if request.lock and (acquired or queued):
                self._give_back(request.lock, execution_id, queued)
            raise
        return Admitted(execution, resolved)

    def _give_back(self, lock_name: str, execution_id: str, queued: bool) -> None:
        """Undo a refused create's place: its lock, or its queue entry (or, when that entry
        was promoted meanwhile, the lock it was given)."""
        if queued and self._queued is not None and self._queued.withdraw(lock_name, execution_id):
            return
        if self._locks.release(lock_name, execution_id) and queued and self._queued is not None:
            self._queued.advance(lock_name)

    def _repeated(self, execution_id: str, fingerprint: str, refused: MycliError) -> Execution:
        """The answer to a keyed create refused by a lock or the record: the first execution
        when the key's execution exists (422 for another request), 409 "in progress" when
        the lock or the record is that very execution's, otherwise the refusal itself."""
        first = self._executions.get(execution_id)
        if first is not None:
            return check_same_request(first, fingerprint)
        if refused.details.get("execution_id", execution_id) != execution_id:
            raise refused
        raise Conflict("a request with this Idempotency-Key is in progress") from refused
