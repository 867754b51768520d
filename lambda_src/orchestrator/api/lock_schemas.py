"""Request and response shapes of the locks routes (issue 21), beside api/schemas.py."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.api.schemas import LockHolderOut, Name
from orchestrator.domain.lock_queue import HOLD_DEFAULT_SECONDS, HOLD_MAX_SECONDS, MAX_REASON_LENGTH

_STRICT = ConfigDict(extra="forbid", strict=True)
_DOCUMENTED = ConfigDict(defer_build=True)


class HoldLock(BaseModel):
    """POST /locks/{lock_name}/hold."""

    model_config = _STRICT

    reason: Name = Field(
        min_length=1,
        max_length=MAX_REASON_LENGTH,
        description="why the lock is held, shown to everyone it refuses (one line; not blank)",
    )
    seconds: int = Field(
        default=HOLD_DEFAULT_SECONDS,
        ge=1,
        le=HOLD_MAX_SECONDS,
        description="how long the hold lasts unless released first",
    )


class QueuedRunOut(BaseModel):
    model_config = _DOCUMENTED

    position: int = Field(description="1 = next to take the lock")
    execution_id: str
    user_email: str
    queued_at: str
    wait_until: str = Field(description="when the run gives up waiting (exit code 125)")


class LockViewOut(BaseModel):
    model_config = _DOCUMENTED

    name: str
    holder: LockHolderOut | None = Field(description="null when the lock is free")
    queue: list[QueuedRunOut] = Field(description="runs waiting for the lock, in arrival order")


class LockListOut(BaseModel):
    model_config = _DOCUMENTED

    locks: list[LockViewOut] = Field(description="every lock that is held or has waiters, by name")


class LockEventOut(BaseModel):
    model_config = _DOCUMENTED

    lock_name: str
    action: Literal["hold", "release", "force_release", "expire"]
    user_email: str = Field(description="who did it (for expire: the hold's holder)")
    at: str
    reason: str | None = Field(description="the hold's reason; null for a run's lock")
    holder_id: str = Field(description="the hold id, or the run's execution id")
    holder_email: str


class LockHistoryOut(BaseModel):
    model_config = _DOCUMENTED

    items: list[LockEventOut] = Field(description="newest first")
    next_cursor: str | None = Field(description="pass back as ?cursor= for the next page")
