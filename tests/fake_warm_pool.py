"""The in-memory WarmPool: one mutex makes every change of state one atomic step, as the
conditional writes do on DynamoDB."""

from __future__ import annotations

import threading
from dataclasses import replace

from orchestrator.domain.errors import Conflict
from orchestrator.domain.warm_tasks import ENDED, WarmState, WarmTask


class InMemoryWarmPool:
    def __init__(self) -> None:
        self.mutex = threading.Lock()
        self.tasks: dict[str, WarmTask] = {}
        self._claims: dict[str, str] = {}
        self._demand: dict[str, str] = {}

    def register(self, task: WarmTask) -> None:
        with self.mutex:
            if task.task_id in self.tasks:
                raise Conflict(f"warm task {task.task_id} exists")
            self.tasks[task.task_id] = task

    def mark_ready(self, task_id: str, task_ref: str, ready_at: str) -> WarmTask | None:
        with self.mutex:
            task = self.tasks.get(task_id)
            if task is None or task.state is not WarmState.STARTING:
                return None
            task = replace(task, state=WarmState.READY, task_ref=task_ref, ready_at=ready_at)
            self.tasks[task_id] = task
            return task

    def claim(
        self, image: str, execution_id: str, *, platform_ref: str | None, usable_after: str, at: str
    ) -> WarmTask | None:
        with self.mutex:
            if execution_id in self._claims:
                return self.tasks[self._claims[execution_id]]
            for task in sorted(self.tasks.values(), key=lambda t: t.started_at):
                if (
                    task.image == image
                    and task.state is WarmState.READY
                    and task.platform_ref == platform_ref
                    and task.usable_until > usable_after
                ):
                    claimed = replace(
                        task, state=WarmState.ASSIGNED, execution_id=execution_id, claimed_at=at
                    )
                    self.tasks[task.task_id] = claimed
                    self._claims[execution_id] = task.task_id
                    return claimed
            return None

    def finish(self, task_id: str, state: WarmState, at: str) -> WarmTask | None:
        if state not in ENDED:
            raise ValueError(f"a task ends DONE or DEAD, not {state}")
        with self.mutex:
            task = self.tasks.get(task_id)
            if task is None or not task.state.is_open:
                return None
            task = replace(task, state=state, ended_at=at)
            self.tasks[task_id] = task
            return task

    def get(self, task_id: str) -> WarmTask | None:
        with self.mutex:
            return self.tasks.get(task_id)

    def open_tasks(self, image: str) -> list[WarmTask]:
        with self.mutex:
            found = [t for t in self.tasks.values() if t.image == image and t.state.is_open]
        return sorted(found, key=lambda task: (task.started_at, task.task_id))

    def counts(self, image: str) -> dict[WarmState, int]:
        counted = dict.fromkeys((WarmState.STARTING, WarmState.READY, WarmState.ASSIGNED), 0)
        for task in self.open_tasks(image):
            counted[task.state] += 1
        return counted

    def stale(self, image: str, *, started_before: str, expiring_before: str) -> list[WarmTask]:
        return [
            task
            for task in self.open_tasks(image)
            if (task.state is WarmState.STARTING and task.started_at < started_before)
            or (task.state is WarmState.READY and task.usable_until < expiring_before)
        ]

    def note_demand(self, image: str, at: str) -> None:
        with self.mutex:
            if at > self._demand.get(image, ""):
                self._demand[image] = at

    def last_demand(self, image: str) -> str | None:
        with self.mutex:
            return self._demand.get(image)


class InMemoryPoolManagerLease:
    """The PoolManagerLease in memory: one mutex makes each change one atomic step."""

    def __init__(self) -> None:
        self.mutex = threading.Lock()
        self.holder: str | None = None
        self.until = ""
        self.again = False

    def acquire(self, holder: str, now: str, until: str) -> bool:
        with self.mutex:
            if self.holder is not None and self.until >= now:
                return False
            self.holder, self.until, self.again = holder, until, False
            return True

    def ask_again(self, now: str) -> bool:
        with self.mutex:
            if self.holder is None or self.until < now:
                return False
            self.again = True
            return True

    def release(self, holder: str, until: str) -> bool:
        with self.mutex:
            if self.holder != holder:
                return True
            if self.again:
                self.until, self.again = until, False
                return False
            self.holder = None
            return True

    def drop(self, holder: str) -> None:
        with self.mutex:
            if self.holder == holder:
                self.holder, self.again = None, False
