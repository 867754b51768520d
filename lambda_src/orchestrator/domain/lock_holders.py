"""Who holds a lock, in the one shape every surface shows (API, CLI, console, 409s):
a run (with its execution's status) or a hold (with its reason)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from orchestrator.domain.durations import format_seconds
from orchestrator.domain.errors import LockHeld
from orchestrator.domain.models import Execution, Lock, parse_iso

RUN = "run"
HOLD = "hold"


@dataclass(frozen=True)
class LockHolder:
    """`kind` "run" (`execution_id` is the run's id, `status` its status) or "hold"
    (`execution_id` is the hold id, `reason` set). `since`/`until`: acquired/expires."""

    kind: str
    lock_name: str
    execution_id: str
    user_email: str
    since: str
    until: str
    status: str | None = None
    reason: str | None = None

    @classmethod
    def of(cls, lock: Lock, run: Execution | None = None) -> LockHolder:
        return cls(
            kind=HOLD if lock.is_hold else RUN,
            lock_name=lock.lock_name,
            execution_id=lock.execution_id,
            user_email=lock.user_email,
            since=lock.acquired_at,
            until=lock.expires_at,
            status=run.status.value if run is not None and not lock.is_hold else None,
            reason=lock.reason,
        )

    def to_dict(self) -> dict[str, object]:
        """Every key always present; `status` is None for a hold, `reason` for a run."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def lock_held_error(holder: Lock, run: Execution | None, now: datetime) -> LockHeld:
    """409 lock_held naming the holder: a run and where it stands, or a hold, its reason
    and the time it has left. The same details for a refused run and a refused hold."""
    details: dict[str, object] = {
        "lock_name": holder.lock_name,
        "holder": holder.user_email,
        "holder_kind": HOLD if holder.is_hold else RUN,
        "execution_id": holder.execution_id,
        "expires_at": holder.expires_at,
        "acquired_at": holder.acquired_at,
        "execution_status": run.status.value if run else None,
        "execution_started_at": run.started_at if run else None,
        "execution_finished_at": run.finished_at if run else None,
    }
    if holder.is_hold:
        details["reason"] = holder.reason
        left = max(0.0, (parse_iso(holder.expires_at) - now).total_seconds())
        state = f'hold: "{holder.reason}", ends in {format_seconds(left)} at {holder.expires_at}'
    elif run is None:
        state = f"execution {holder.execution_id}, acquired {holder.acquired_at}"
    elif run.finished_at:
        state = (
            f"execution {holder.execution_id}, {run.status.value} at {run.finished_at}; "
            "the lock is being freed"
        )
    else:
        state = f"execution {holder.execution_id}, {run.status.value} since {run.started_at}"
    return LockHeld(f"lock '{holder.lock_name}' is held by {holder.user_email} ({state})", details)
