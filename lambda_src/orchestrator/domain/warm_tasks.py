"""Warm tasks (docs/warm-runners.md): tasks of an image's task definition started ahead of
any run, each waiting for exactly one assignment. The records the WarmPool port keeps."""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum

# An image's pool (`warm`): at most this many tasks; `warm_idle_seconds` within these bounds.
MAX_WARM_PER_IMAGE = 50
DEFAULT_WARM_IDLE_SECONDS = 3600
MIN_WARM_IDLE_SECONDS = 60
MAX_WARM_IDLE_SECONDS = 7 * 24 * 3600


class WarmState(StrEnum):
    """STARTING (RunTask called) -> READY (its containers run) -> ASSIGNED (claimed for one
    execution) -> DONE (its run ended) or DEAD (stopped or lost before it was assigned, or
    with its run)."""

    STARTING = "starting"
    READY = "ready"
    ASSIGNED = "assigned"
    DONE = "done"
    DEAD = "dead"

    @property
    def is_open(self) -> bool:
        return self in (WarmState.STARTING, WarmState.READY, WarmState.ASSIGNED)


ENDED = (WarmState.DONE, WarmState.DEAD)


@dataclass(frozen=True)
class WarmTask:
    """One warm task. `task_id` is the pool's own id (32 hex), chosen before RunTask: the
    task's `startedBy` is `w-<task_id>` and its mailbox key holds it. `platform_ref` is the
    task definition it was started from (an image made again after an upgrade has another:
    its older warm tasks are not claimed). `usable_until` is when its mailbox URL expires:
    an assignment written later would never be read. Timestamps are utc_iso strings."""

    task_id: str
    image: str
    state: WarmState
    mailbox: str
    platform_ref: str | None
    started_at: str
    usable_until: str
    task_ref: str | None = None
    ready_at: str | None = None
    execution_id: str | None = None
    claimed_at: str | None = None
    ended_at: str | None = None

    def to_dict(self) -> dict[str, object]:
        data = {field.name: getattr(self, field.name) for field in fields(self)}
        data["state"] = self.state.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> WarmTask:
        known = {field.name for field in fields(cls)}
        values = {name: value for name, value in data.items() if name in known}
        values["state"] = WarmState(str(values["state"]))
        values.setdefault("platform_ref", None)  # not stored when None
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class PoolCounts:
    """An image's pool as `GET /images` shows it: `target` as registered, `ready` and
    `starting` now (`assigned`: tasks running a run, no longer in the pool)."""

    target: int
    ready: int = 0
    starting: int = 0
    assigned: int = 0

    def shown(self) -> dict[str, int]:
        return {"target": self.target, "ready": self.ready, "starting": self.starting}
