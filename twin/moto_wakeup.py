"""A wake-up for the moto bridge: this process's moto ECS sets an event each time it starts or
stops a task, so the bridge answers a RunTask at once and polls rarely while nothing runs
(each poll is two ListTasks calls over HTTP, which an idle twin would otherwise make ten
times a second)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

from moto.ecs.models import EC2ContainerServiceBackend

_TASK_CHANGES = ("run_task", "stop_task")


class TaskChanges:
    """Events to set when moto starts or stops a task: one per subscriber."""

    def __init__(self) -> None:
        self._events: list[threading.Event] = []

    def subscribe(self) -> threading.Event:
        event = threading.Event()
        self._events.append(event)
        return event

    def signal(self) -> None:
        for event in self._events:
            event.set()


def _signalling(call: Callable[..., Any], changes: TaskChanges) -> Callable[..., Any]:
    @functools.wraps(call)
    def then_signal(*args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        finally:
            changes.signal()

    return then_signal


@contextmanager
def ecs_task_changes() -> Iterator[TaskChanges]:
    """For the block, each RunTask and StopTask of this process's moto signals the changes'
    subscribers."""
    changes = TaskChanges()
    with ExitStack() as patches:
        for name in _TASK_CHANGES:
            original = getattr(EC2ContainerServiceBackend, name)
            patches.enter_context(
                mock.patch.object(EC2ContainerServiceBackend, name, _signalling(original, changes))
            )
        yield changes
