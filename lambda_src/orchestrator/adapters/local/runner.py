"""Runs each execution as `sh -c COMMAND` in its own process group and working directory,
with a minimal environment and the given stdin (else /dev/null); stores stdout and stderr,
read from separate pipes, byte for byte in the execution's log files; enforces the timeout
and cancels by terminating the whole group, killing it after a grace period."""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.adapters.local.logfiles import (
    STDERR,
    STDOUT,
    LocalLogWaiter,
    LogFileWriter,
    log_stream_name,
)
from orchestrator.adapters.local.private import DIR_MODE, private_dir
from orchestrator.domain.errors import LaunchFailed
from orchestrator.domain.models import DEFAULT_MAX_LOG_BYTES, Execution, LaunchResult, LaunchSpec
from orchestrator.ports import Clock, RunnerListener
from orchestrator.unpack import UnsafeArchive, safe_extract

EXECUTION_ID_VARIABLE = "MYCLI_EXECUTION_ID"
READ_BYTES = 256 * 1024


@dataclass
class _Running:
    process: subprocess.Popen[bytes]
    stop_requested: threading.Event = field(default_factory=threading.Event)


class LocalProcessRunner:
    """The embedded runner. Reports RUNNING and the exit to its listener from a watcher thread."""

    def __init__(
        self,
        work_dir: Path,
        log_dir: Path,
        clock: Clock,
        *,
        kill_grace_seconds: float = 5.0,
        path_variable: str | None = None,
        max_log_bytes: int = DEFAULT_MAX_LOG_BYTES,
        log_waiter: LocalLogWaiter | None = None,
    ) -> None:
        self._work_dir = work_dir
        self._log_dir = log_dir
        self._clock = clock
        self._kill_grace = kill_grace_seconds
        self._path = path_variable or os.environ.get("PATH", "/usr/bin:/bin")
        self._max_log_bytes = max_log_bytes
        self._log_waiter = log_waiter
        self._listener: RunnerListener | None = None
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()
        private_dir(work_dir)
        private_dir(log_dir)

    def subscribe(self, listener: RunnerListener) -> None:
        self._listener = listener

    def launch(self, spec: LaunchSpec) -> LaunchResult:
        workdir = self._work_dir / spec.execution_id
        stream = log_stream_name(spec.execution_id)
        try:
            workdir.mkdir(mode=DIR_MODE, parents=True)
        except OSError as exc:
            raise LaunchFailed(f"cannot prepare the working directory: {exc.strerror}") from exc
        if spec.upload_location:
            try:
                safe_extract(Path(spec.upload_location), workdir)
            except UnsafeArchive as refused:
                shutil.rmtree(workdir, ignore_errors=True)
                raise LaunchFailed(f"upload refused: {refused}") from refused
        try:
            stdin = open(spec.stdin_location, "rb") if spec.stdin_location else None  # noqa: SIM115
        except OSError as exc:
            shutil.rmtree(workdir, ignore_errors=True)
            raise LaunchFailed(f"cannot open the stdin upload: {exc.strerror}") from exc
        writer = LogFileWriter(self._log_dir / stream, self._max_log_bytes, self._clock)
        try:
            process = subprocess.Popen(
                ["sh", "-c", spec.command],
                cwd=workdir,
                env=self._environment(spec, workdir),
                stdin=stdin if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            writer.close()
            shutil.rmtree(workdir, ignore_errors=True)
            raise LaunchFailed(exc.strerror or str(exc)) from exc
        finally:
            if stdin is not None:
                stdin.close()
        running = _Running(process)
        with self._lock:
            self._running[spec.execution_id] = running
        threading.Thread(
            target=self._watch,
            args=(spec, running, writer, workdir),
            name=f"watch-{spec.execution_id[:8]}",
            daemon=True,
        ).start()
        return LaunchResult(task_ref=str(process.pid), log_stream_name=stream)

    def stop(self, execution: Execution, reason: str) -> None:
        with self._lock:
            running = self._running.get(execution.execution_id)
        if running is not None:
            self._stop(running)

    def lost(self, executions: Sequence[Execution]) -> set[str]:
        with self._lock:
            return {e.execution_id for e in executions if e.execution_id not in self._running}

    def stop_all(self) -> None:
        """Terminate every process group this runner started (server shutdown)."""
        with self._lock:
            running = list(self._running.values())
        for item in running:
            self._stop(item)

    @property
    def active_count(self) -> int:
        with self._lock:
            return len(self._running)

    # -- internals --------------------------------------------------------------------------

    def _environment(self, spec: LaunchSpec, workdir: Path) -> dict[str, str]:
        return {
            "PATH": self._path,
            "HOME": str(workdir),
            "LANG": "C.UTF-8",
            **spec.env,
            EXECUTION_ID_VARIABLE: spec.execution_id,
        }

    def _watch(
        self, spec: LaunchSpec, running: _Running, writer: LogFileWriter, workdir: Path
    ) -> None:
        process = running.process
        if self._listener is not None:
            self._listener.on_running(spec.execution_id)
        pump = threading.Thread(
            target=self._pump, args=(spec.execution_id, process, writer), daemon=True
        )
        pump.start()
        timed_out = False
        try:
            process.wait(timeout=spec.timeout_seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
            self._stop(running)
            process.wait()
        # Children left in the background would keep the pipes open: end the whole group.
        _signal_group(process.pid, signal.SIGKILL)
        pump.join()
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()
        writer.close()
        shutil.rmtree(workdir, ignore_errors=True)
        with self._lock:
            self._running.pop(spec.execution_id, None)
        code = process.returncode
        exit_code = code if code >= 0 else 128 - code
        if self._listener is not None:
            self._listener.on_exit(spec.execution_id, exit_code, timed_out=timed_out)
        if self._log_waiter is not None:
            self._log_waiter.ended(spec.execution_id)

    def _pump(
        self, execution_id: str, process: subprocess.Popen[bytes], writer: LogFileWriter
    ) -> None:
        """Copy both pipes to the log as the bytes arrive: no lines, nothing changed."""
        assert process.stdout is not None and process.stderr is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout.fileno(), selectors.EVENT_READ, STDOUT)
            selector.register(process.stderr.fileno(), selectors.EVENT_READ, STDERR)
            while selector.get_map():
                for key, _ in selector.select():
                    data = os.read(key.fd, READ_BYTES)
                    if not data:
                        selector.unregister(key.fd)
                        continue
                    if writer.write(key.data, data) and self._listener is not None:
                        self._listener.on_log_truncated(execution_id, writer.size)
                    if self._log_waiter is not None:
                        self._log_waiter.grew(execution_id, writer.size)

    def _stop(self, running: _Running) -> None:
        """SIGTERM the group now, SIGKILL it if still alive after the grace period."""
        if running.stop_requested.is_set():
            return
        running.stop_requested.set()
        pid = running.process.pid
        _signal_group(pid, signal.SIGTERM)

        def kill_after_grace() -> None:
            deadline = time.monotonic() + self._kill_grace
            while time.monotonic() < deadline:
                if running.process.returncode is not None:
                    return
                time.sleep(0.05)
            _signal_group(pid, signal.SIGKILL)

        threading.Thread(target=kill_after_grace, daemon=True).start()


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def kill_orphaned_group(pid: int, execution_id: str) -> bool:
    """Kill the process group a dead server left running for `execution_id`.

    Checks the process's environment first, so a reused pid is never touched."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    if f"{EXECUTION_ID_VARIABLE}={execution_id}".encode() not in environ.split(b"\0"):
        return False
    _signal_group(pid, signal.SIGKILL)
    return True
