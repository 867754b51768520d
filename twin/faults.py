"""The twin's fault hooks for tests (docs/aws-twin.md): files under `<run dir>/faults/`,
read on every use, that make a part of the deployment fail as it can on AWS. Nothing in the
platform reads them.

- `fail-task-events`: the task-state rule's function fails (before its handler runs) for
  the events of the executions listed, so its retries run out and the event goes to the
  dead-letter queue;
- `fail-stop-task`: StopTask, called by the template's functions, fails (ECS
  ServerException) for the tasks of the executions listed;
- `die-after-promotion`: a function that gives a listed (queued) execution its lock dies
  right after that write succeeds, before it launches the run (a promoter killed mid-way).

Each line is `<execution id>` (every call fails) or `<execution id> <N>` (the next N
calls fail; the file counts down to 0)."""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from twin.functions import in_function

logger = logging.getLogger("twin.faults")
FAULTS_DIR = "faults"
FAILED_TASK_EVENTS_FILE = f"{FAULTS_DIR}/fail-task-events"
FAILED_STOP_TASKS_FILE = f"{FAULTS_DIR}/fail-stop-task"
DIE_AFTER_PROMOTION_FILE = f"{FAULTS_DIR}/die-after-promotion"
STOP_TASK_FAILURE = "the twin's fault hook fails this StopTask"


class FaultInjected(Exception):
    """What a function made to fail by a hook raises."""


class ExecutionFaults:
    """One hook file of `<execution id> [N]` lines."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def listed(self) -> bool:
        """Whether any execution is listed (cheap: callers skip lookups otherwise)."""
        try:
            return bool(self.path.read_text().strip())
        except OSError:
            return False

    def take(self, execution_id: str) -> bool:
        """Whether this call about `execution_id` fails (counting it down when counted)."""
        with self._lock:
            try:
                lines = self.path.read_text().splitlines()
            except OSError:
                return False
            for number, line in enumerate(lines):
                fields = line.split()
                if not fields or fields[0] != execution_id:
                    continue
                if len(fields) == 1:
                    return True
                if not fields[1].isdigit() or int(fields[1]) == 0:
                    return False
                lines[number] = f"{execution_id} {int(fields[1]) - 1}"
                written = self.path.with_name(self.path.name + ".new")
                written.write_text("".join(f"{kept}\n" for kept in lines))
                os.replace(written, self.path)
                return True
            return False


class FaultHooks:
    """The run directory's hooks."""

    def __init__(self, run_dir: Path) -> None:
        self.directory = run_dir / FAULTS_DIR
        self.task_events = ExecutionFaults(run_dir / FAILED_TASK_EVENTS_FILE)
        self.stop_tasks = ExecutionFaults(run_dir / FAILED_STOP_TASKS_FILE)
        self.promotions = ExecutionFaults(run_dir / DIE_AFTER_PROMOTION_FILE)

    def fail_task_event(self, event: dict[str, Any]) -> None:
        """Raise FaultInjected if the function must fail on this task-state event."""
        execution_id = str((event.get("detail") or {}).get("startedBy") or "")
        if execution_id and self.task_events.take(execution_id):
            logger.warning("fault hook: the task-events function fails for %s", execution_id)
            raise FaultInjected(f"the twin's fault hook fails the events of {execution_id}")

    def clear(self) -> None:
        """Remove every hook file (a reset twin injects nothing)."""
        if self.directory.is_dir():
            for hook in self.directory.iterdir():
                hook.unlink(missing_ok=True)


@contextmanager
def failing_stop_tasks(hooks: FaultHooks) -> Iterator[None]:
    """For the block, StopTask calls made by this process's functions fail, and promoters
    die after their promotion, as the hooks say (botocore's client patched: the twin's own
    calls, e.g. the moto bridge's, are left alone)."""
    original = BaseClient._make_api_call
    hooked = _promotion_hook(_stop_task_hook(original, hooks), hooks)
    with mock.patch.object(BaseClient, "_make_api_call", hooked):
        yield


def _promotion_hook(original: Callable[..., Any], hooks: FaultHooks) -> Callable[..., Any]:
    @functools.wraps(original)
    def make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
        answer = original(client, operation, params)
        if operation == "TransactWriteItems" and in_function() and hooks.promotions.listed():
            for execution_id in _locks_given(params):
                if hooks.promotions.take(execution_id):
                    logger.warning("fault hook: the promoter of %s dies", execution_id)
                    raise FaultInjected(
                        f"the twin's fault hook kills the promoter of {execution_id}"
                    )
        return answer

    return make_api_call


def _locks_given(params: dict[str, Any]) -> Iterator[str]:
    """The executions a transaction gives a lock to: its Puts of lock items (a promotion)."""
    for item in params.get("TransactItems", []):
        put = (item.get("Put") or {}).get("Item") or {}
        if "lock_name" in put and "execution_id" in put and "ttl" in put:
            yield str(put["execution_id"].get("S", ""))


def _stop_task_hook(original: Callable[..., Any], hooks: FaultHooks) -> Callable[..., Any]:
    @functools.wraps(original)
    def make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "StopTask" and in_function() and hooks.stop_tasks.listed():
            described = original(
                client,
                "DescribeTasks",
                {"cluster": params.get("cluster"), "tasks": [params["task"]]},
            )
            for task in described.get("tasks", []):
                execution_id = str(task.get("startedBy") or "")
                if execution_id and hooks.stop_tasks.take(execution_id):
                    logger.warning("fault hook: StopTask of %s fails", execution_id)
                    raise ClientError(
                        {
                            "Error": {"Code": "ServerException", "Message": STOP_TASK_FAILURE},
                            "ResponseMetadata": {"HTTPStatusCode": 500},
                        },
                        "StopTask",
                    )
        return original(client, operation, params)

    return make_api_call
