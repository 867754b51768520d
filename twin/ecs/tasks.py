"""A running task: its containers started as their dependency conditions are met, stopped
when an essential one exits or on StopTask, every change reported as a task record.

One supervisor thread per task makes every decision and emits every event (so events are
in order); one thread per container waits for its process and wakes the supervisor."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from twin.ecs.containers import (
    DEPENDENCY_FAILED_EXIT_CODE,
    ContainerState,
    dependency_met,
    unmet_reason,
)
from twin.ecs.events import (
    DEFAULT_STOP_REASON,
    ESSENTIAL_CONTAINER_EXITED,
    ESSENTIAL_EXITED_REASON,
    PENDING,
    PROVISIONING,
    RUNNING,
    STOPPED,
    STOPPING,
    TASK_FAILED_TO_START,
    USER_INITIATED,
    iso,
    without_none,
)
from twin.ecs.images import ImageMapper
from twin.ecs.process import ContainerOutput, ContainerProcess, OutputSink, exit_code_of
from twin.ecs.task_definition import (
    TaskDefinition,
    container_overrides,
    effective_command,
    effective_environment,
)
from twin.ecs.volumes import Bind, VolumeMode, plan_launch

logger = logging.getLogger(__name__)
# In every container's environment: `<task id>/<container name>`, so a test can find (and
# kill) one container's processes, as a fault on a real host would (see docs/aws-twin.md).
CONTAINER_MARKER = "MYCLI_TWIN_CONTAINER"


@dataclass(frozen=True)
class TaskHost:
    """What every task of a stand-in shares: how to run images and volumes, defaults, and
    where records and output go."""

    images: ImageMapper
    volume_mode: VolumeMode
    environment: Mapping[str, str]
    stop_timeout: float
    emit: Callable[[dict[str, Any]], None]
    on_output: OutputSink | None = None
    # Fargate's start latency (twin/ecs/start_delay.py), read at each RunTask.
    start_delay: Callable[[], float] = lambda: 0.0


class TaskRun:
    """One task, from RunTask to STOPPED."""

    def __init__(
        self,
        *,
        arn: str,
        cluster_arn: str,
        definition: TaskDefinition,
        overrides: Mapping[str, Any] | None,
        started_by: str,
        group: str,
        task_dir: Path,
        host: TaskHost,
    ) -> None:
        self.arn = arn
        self.task_id = arn.rsplit("/", 1)[-1]
        self.definition = definition
        self.task_dir = task_dir
        self.log_dir = task_dir / "logs"
        self._overrides = dict(overrides or {})
        self._by_container = container_overrides(definition, self._overrides)
        self._host = host
        self._cond = threading.Condition()
        self._containers = {
            c.name: ContainerState(c, f"{arn}/container/{c.name}") for c in definition.containers
        }
        self._fixed = {
            "taskArn": arn,
            "clusterArn": cluster_arn,
            "taskDefinitionArn": definition.arn,
            "group": group or f"family:{definition.family}",
            "startedBy": started_by or None,
            "launchType": "FARGATE",
            "platformVersion": "1.4.0",
            "cpu": self._overrides.get("cpu") or definition.cpu,
            "memory": self._overrides.get("memory") or definition.memory,
            "overrides": {"containerOverrides": [], **self._overrides},
            "createdAt": iso(datetime.now(UTC)),
        }
        self.last_status = PROVISIONING
        self.desired_status = RUNNING
        self.stop_code: str | None = None
        self.stopped_reason: str | None = None
        self._times: dict[str, str | None] = {}
        self._changes = 0
        self._version = 0
        self._done = threading.Event()
        self.start_delay = host.start_delay()
        self._thread = threading.Thread(target=self._run, name=f"twin-task-{self.task_id}")

    def start(self) -> None:
        self._thread.start()

    def stop(self, reason: str | None = None) -> None:
        """StopTask: the first reason given is kept; stopping a stopped task changes nothing."""
        with self._cond:
            if self.stop_code is None:
                self.stop_code = USER_INITIATED
                self.stopped_reason = reason or DEFAULT_STOP_REASON
            self.desired_status = STOPPED
            self._cond.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Whether the task has stopped (and its STOPPED event been emitted) in time."""
        return self._done.wait(timeout)

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def describe(self) -> dict[str, Any]:
        """The task as DescribeTasks (and the events' detail) shows it."""
        with self._cond:
            return self._record()

    def output(self, container: str, stream: str = "stdout") -> bytes:
        """What a container has written to a stream so far."""
        path = self.log_dir / f"{container}.{stream}"
        return path.read_bytes() if path.exists() else b""

    def _run(self) -> None:
        try:
            self._emit_now()  # PROVISIONING
            self._hold(self.start_delay / 2)  # Fargate attaching the network interface
            for volume in self.definition.volumes:
                (self.task_dir / "volumes" / volume).mkdir(parents=True, exist_ok=True)
            with self._cond:
                self.last_status = PENDING
            self._emit_now()
            self._hold(self.start_delay / 2)  # Fargate pulling the images
            self._supervise()
            self._shut_down()
        except Exception as error:  # the task still ends, and says why
            logger.exception("task %s failed", self.arn)
            with self._cond:
                if self.stop_code is None:
                    self.stop_code = TASK_FAILED_TO_START
                    self.stopped_reason = f"the twin could not run the task: {error}"
            self._kill_everything()
        finally:
            with self._cond:
                self.last_status = self.desired_status = STOPPED
                self._times["stoppedAt"] = self._times["executionStoppedAt"] = _now()
            self._emit_now()
            self._done.set()

    def _hold(self, seconds: float) -> None:
        """Wait `seconds`, or until StopTask."""
        with self._cond:
            self._cond.wait_for(lambda: self.stop_code is not None, timeout=seconds)

    def _supervise(self) -> None:
        """Start what may start; return once the task must stop (at once when it was
        stopped before any container started)."""
        emitted = -1
        while True:
            with self._cond:
                if self.stop_code is not None:
                    return
                self._start_ready_containers()
                self._note_essential_exit()
                if self.stop_code is not None:
                    return
                if self.last_status == PENDING and any(c.started for c in self._all()):
                    self.last_status = RUNNING
                    self._times["startedAt"] = _now()
                if emitted == self._changes:
                    self._cond.wait()
                    continue
                emitted = self._changes
                record = self._record(change=True)
            self._emit(record)

    def _start_ready_containers(self) -> None:
        progress = True
        while progress:
            progress = False
            for state in self._all():
                if state.status != PENDING:
                    continue
                verdicts = [
                    (d, dependency_met(d, self._containers[d.container]))
                    for d in state.definition.depends_on
                ]
                unmet = next(((d, v) for d, v in verdicts if v is False), None)
                if unmet is not None:
                    why = unmet_reason(state.name, unmet[0], self._containers[unmet[0].container])
                    state.stopped(DEPENDENCY_FAILED_EXIT_CODE, why)
                elif all(v for _, v in verdicts):
                    self._start(state)
                else:
                    continue
                self._changes += 1
                progress = True

    def _start(self, state: ContainerState) -> None:
        definition = state.definition
        override = self._by_container.get(state.name, {})
        runtime = self._host.images(definition.image)
        argv = runtime.argv(definition.entry_point, effective_command(definition, override))
        environment = {
            **self._host.environment,
            CONTAINER_MARKER: f"{self.task_id}/{state.name}",
            **runtime.environment,
            **effective_environment(definition, override),
        }
        if not argv:
            state.stopped(None, "CannotStartContainerError: no command to run")
            return
        binds = [
            Bind(self.task_dir / "volumes" / mount.source_volume, mount)
            for mount in definition.mount_points
        ]
        log = definition.log_stream(self.task_id)
        template = ContainerOutput(
            self.arn, state.name, "", b"", log[0] if log else None, log[1] if log else None
        )
        try:
            launch = plan_launch(
                self._host.volume_mode,
                argv,
                working_directory=definition.working_directory,
                binds=binds,
                container_root=self.task_dir / "roots" / state.name,
            )
            process = ContainerProcess(
                launch, environment, self.log_dir, template, self._host.on_output
            )
            process.start()
        except Exception as error:  # StartFailure, or a directory that cannot be made
            state.stopped(None, f"CannotStartContainerError: {error}")
            return
        state.process, state.status, state.started = process, RUNNING, True
        threading.Thread(
            target=self._watch, args=(state, process), name=f"twin-wait-{state.name}", daemon=True
        ).start()

    def _watch(self, state: ContainerState, process: ContainerProcess) -> None:
        """Wait for the container's main process; end the rest of its processes with it."""
        returncode = process.wait()
        process.kill_group()
        process.finish_output()
        failure = process.start_failure(returncode)
        with self._cond:
            if failure is not None:
                state.started = False
                state.stopped(None, f"CannotStartContainerError: {failure}")
            else:
                state.stopped(exit_code_of(returncode))
            self._changes += 1
            self._cond.notify_all()

    def _note_essential_exit(self) -> None:
        """An essential container that stopped stops the task; one that could not start
        fails it (TaskFailedToStart, with the container's reason)."""
        if self.stop_code is not None:
            return
        essential = [c for c in self._all() if c.definition.essential and c.status == STOPPED]
        if not essential:
            return
        failed = next((c for c in essential if c.exit_code is None and c.reason), None)
        if failed is not None:
            self.stop_code, self.stopped_reason = TASK_FAILED_TO_START, failed.reason
        else:
            self.stop_code = ESSENTIAL_CONTAINER_EXITED
            self.stopped_reason = ESSENTIAL_EXITED_REASON
        self.desired_status = STOPPED

    def _shut_down(self) -> None:
        """Stop the containers in the reverse of their dependency order: each gets SIGTERM
        once its dependents have stopped, and its group SIGKILL after its stopTimeout."""
        with self._cond:
            self.desired_status = STOPPED
            for state in self._all():
                if state.status == PENDING:
                    state.status = STOPPED  # never started: no exit code
            if not any(c.status == RUNNING for c in self._all()):
                return
            self.last_status = STOPPING
            self._times["stoppingAt"] = _now()
            record = self._record(change=True)
        self._emit(record)
        with self._cond:
            while running := [c for c in self._all() if c.status == RUNNING]:
                now = time.monotonic()
                deadlines = []
                for state in running:
                    assert state.process is not None
                    if state.signalled_at is None and self._dependents_stopped(state):
                        state.process.terminate()
                        state.signalled_at = now
                    if state.signalled_at is None or state.killed:
                        continue
                    deadline = state.signalled_at + self._stop_timeout(state)
                    if now >= deadline:
                        state.process.kill_group()
                        state.killed = True
                    else:
                        deadlines.append(deadline)
                self._cond.wait(min(deadlines) - now if deadlines else 1.0)

    def _dependents_stopped(self, state: ContainerState) -> bool:
        return all(
            self._containers[name].status == STOPPED
            for name in self.definition.dependents(state.name)
        )

    def _stop_timeout(self, state: ContainerState) -> float:
        timeout = state.definition.stop_timeout
        return timeout if timeout is not None else self._host.stop_timeout

    def _kill_everything(self) -> None:
        with self._cond:
            for state in self._all():
                if state.process is not None and state.status == RUNNING:
                    state.process.kill_group()
        for state in self._all():
            if state.process is not None:
                state.process.wait()

    def _all(self) -> list[ContainerState]:
        return list(self._containers.values())

    def _record(self, *, change: bool = False) -> dict[str, Any]:
        """The task record; `change` gives it a new version (ECS's count of changes)."""
        self._version += 1 if change else 0
        return without_none(
            {
                **self._fixed,
                "lastStatus": self.last_status,
                "desiredStatus": self.desired_status,
                "stopCode": self.stop_code,
                "stoppedReason": self.stopped_reason,
                "containers": [c.record(self.arn) for c in self._all()],
                **self._times,
                "updatedAt": _now(),
                "version": self._version,
            }
        )

    def _emit_now(self) -> None:
        with self._cond:
            record = self._record(change=True)
        self._emit(record)

    def _emit(self, record: dict[str, Any]) -> None:
        try:
            self._host.emit(record)
        except Exception:  # a failing sink must not leave the task's processes running
            logger.exception("the event sink failed for %s", self.arn)


def _now() -> str | None:
    return iso(datetime.now(UTC))
