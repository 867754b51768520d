"""The ports of images and their warm pools (re-exported by orchestrator.ports)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from orchestrator.domain.models import Image
from orchestrator.domain.warm_reconcile import PlatformWarmTask
from orchestrator.domain.warm_tasks import WarmState, WarmTask


class ImageStore(Protocol):
    def create(self, image: Image) -> None:
        """Record a new image; raises Conflict if the name exists."""
        ...

    def get(self, name: str) -> Image | None: ...

    def list_all(self) -> list[Image]:
        """Every image, by name (a handful: admins register them)."""
        ...

    def delete(self, name: str) -> bool:
        """Forget the image; False when there was none."""
        ...

    def set_default(self, name: str) -> None:
        """Make `name` the only default image."""
        ...

    def replace_platform(self, current: Image, fresh: Image) -> bool:
        """Give the image `fresh`'s platform_ref and platform_base, only while its record
        still has `current`'s platform_ref; False when it has not (made again meanwhile, or
        removed)."""
        ...

    def update_pool(
        self, name: str, *, warm: int | None, warm_idle_seconds: int | None
    ) -> Image | None:
        """Set the image's warm pool fields given (None: unchanged) in one write; the image
        as recorded after it. None when there is no such image: a removed one is never
        brought back."""
        ...


class WarmPool(Protocol):
    """Warm tasks per image (docs/warm-runners.md). Every change of state is one conditional
    write: of concurrent claimers, each ready task goes to one, and each execution gets at
    most one task."""

    def register(self, task: WarmTask) -> None:
        """Record a task being started (its state as given); Conflict when its id exists."""
        ...

    def mark_ready(self, task_id: str, task_ref: str, ready_at: str) -> WarmTask | None:
        """STARTING -> READY, with its ECS task; None when it is not starting."""
        ...

    def claim(
        self, image: str, execution_id: str, *, platform_ref: str | None, usable_after: str, at: str
    ) -> WarmTask | None:
        """Move one READY task of `image` started from `platform_ref`, whose mailbox is usable
        after `usable_after`, to ASSIGNED for `execution_id`, atomically. An execution that
        holds a task already gets that one again. None when no task can be had."""
        ...

    def finish(self, task_id: str, state: WarmState, at: str) -> WarmTask | None:
        """End an open task as DONE or DEAD; the ended task, None when it had ended already
        (or is unknown)."""
        ...

    def get(self, task_id: str) -> WarmTask | None: ...

    def open_tasks(self, image: str) -> list[WarmTask]:
        """`image`'s STARTING, READY and ASSIGNED tasks, oldest first."""
        ...

    def counts(self, image: str) -> dict[WarmState, int]:
        """How many of `image`'s tasks are in each open state."""
        ...

    def stale(self, image: str, *, started_before: str, expiring_before: str) -> list[WarmTask]:
        """`image`'s tasks still STARTING since before `started_before`, and READY ones whose
        mailbox expires before `expiring_before`."""
        ...

    def note_demand(self, image: str, at: str) -> None:
        """A run asked for `image` at `at` (kept only when later than the last one noted)."""
        ...

    def last_demand(self, image: str) -> str | None: ...


class WarmTaskPlatform(Protocol):
    """The tasks the platform runs as warm tasks (AWS: the cluster's tasks whose startedBy
    is `w-<task id>`), for the pool manager's reconciliation."""

    def running(self) -> list[PlatformWarmTask]:
        """The warm tasks the platform has not stopped yet (or is stopping)."""
        ...

    def describe(self, task_refs: Sequence[str]) -> dict[str, PlatformWarmTask | None]:
        """Each task by its ref as the platform describes it; None when it does not know it."""
        ...


class PoolManagerLease(Protocol):
    """One pool manager at a time (docs/warm-runners.md): two running at once would both
    start what a pool misses. A run that finds the lease held asks its holder to run again
    instead. Timestamps are utc_iso strings."""

    def acquire(self, holder: str, now: str, until: str) -> bool:
        """Take the lease until `until` when it is free (or its holder's time is past);
        a request to run again is cleared. False when another holds it."""
        ...

    def ask_again(self, now: str) -> bool:
        """Ask the lease's holder to run once more before it lets go; False when no one
        holds it (the asker may take it)."""
        ...

    def release(self, holder: str, until: str) -> bool:
        """Let go, unless a run was asked for meanwhile: then the request is cleared, the
        lease kept until `until`, and False is answered (run again). True as well when the
        lease is no longer `holder`'s."""
        ...

    def drop(self, holder: str) -> None:
        """Let go whatever was asked (a holder that failed); nothing when not its."""
        ...


class ImagePlatform(Protocol):
    """What the backend does when an image comes and goes (AWS: its task definition)."""

    def register(self, image: Image) -> Image:
        """Prepare the backend for runs on `image`; returns it with the backend's handle and
        what it was made from (platform_ref, platform_base: None where there is nothing to
        prepare). Raises ValidationFailed when the backend refuses the image."""
        ...

    def is_current(self, image: Image) -> bool:
        """Whether `image`'s handle was made from the backend's setup as it is now (AWS: the
        stack's run task definition, which a stack upgrade replaces)."""
        ...

    def unregister(self, image: Image) -> None:
        """Release what `register` made; runs already started on it are not affected."""
        ...

    def warnings(self, image: Image) -> list[str]:
        """What registering `image` means on this backend that its admin may not expect
        (shown with the registration); none where it means what it says."""
        ...

    def pool_warnings(self, image: Image) -> list[str]:
        """The part of `warnings` about `image`'s warm pool (shown with a change of it)."""
        ...
