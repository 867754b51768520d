"""Runs each execution as `sh -c COMMAND` in its own process group and working directory,
with the run's environment (orchestrator/agent/environment.py) and the given stdin (else
/dev/null); stores stdout and stderr, read from separate pipes, byte for byte in the
execution's log files; enforces the timeout and cancels by terminating every process of the
run, killing them after a grace period.

A run's processes are tracked by what they cannot leave by forking, `setsid` or a double
fork (see adapters/local/processes.py): a cgroup v2 of its own where this host lets the
server make one, and always the `MYCLI_EXECUTION_ID` marker in their environment. When the
run's main process exits, times out or is cancelled, or the server stops, every process
found either way is killed, and the run's end is reported without waiting for output pipes
an escaped process might still hold. A server that adopts orphans (PR_SET_CHILD_SUBREAPER)
reaps the double-forked ones it inherits.

A run with a git source or an upload first runs its setup steps (orchestrator/agent/setup.py:
the checkout, the unpack, as the AWS run agent runs them) one after the other as its
process, tracked and timed like the command; the command starts in place of the last one
once all have succeeded, or the run ends without it (FAILED with the reason, or cancelled
or timed out). `launch` only starts the first process: it never waits for a step."""

from __future__ import annotations

import logging
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from orchestrator.adapters.local.limits import limit_cgroup
from orchestrator.adapters.local.logfiles import LocalLogWaiter, LogFileWriter, log_stream_name
from orchestrator.adapters.local.orphans import reap_forever, reap_orphans
from orchestrator.adapters.local.output import ProcessOutput
from orchestrator.adapters.local.private import DIR_MODE, private_dir
from orchestrator.adapters.local.processes import (
    EXECUTION_ID_VARIABLE,
    KILL_SETTLE_SECONDS,
    RUNNER_VARIABLE,
    become_subreaper,
    exit_code_of,
    run_cgroup_base,
)
from orchestrator.adapters.local.setup_steps import finish_step, setup_steps
from orchestrator.adapters.local.tracking import Ended, Run, RunTracking, start_process
from orchestrator.agent.environment import host_path, run_environment
from orchestrator.agent.setup import SetupStep
from orchestrator.domain.errors import LaunchFailed
from orchestrator.domain.models import DEFAULT_MAX_LOG_BYTES, Execution, LaunchResult, LaunchSpec
from orchestrator.ports import Clock, RunnerListener
from orchestrator.unpack import Limits, remove_tree

__all__ = ["EXECUTION_ID_VARIABLE", "RUNNER_VARIABLE", "LocalProcessRunner", "run_cgroup_base"]

# Once every process of a run is gone its pipes hold at most a pipe buffer: this is plenty to
# drain it; past it, an untracked holder of the pipes is not waited for.
PIPE_DRAIN_SECONDS = 2.0

logger = logging.getLogger(__name__)


def _remove(path: Path) -> None:
    """Remove a run's directory (any depth, links not followed); a failure is logged, never
    raised: it must not stop a run's end from being reported, nor a server from starting."""
    try:
        remove_tree(path)
    except Exception:
        logger.exception("could not remove %s", path)


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
        adopt_orphans: bool = False,
        cgroups: bool = True,
        unpack_limits: Limits | None = None,
    ) -> None:
        self._work_dir = work_dir
        self._log_dir = log_dir
        self._clock = clock
        self._kill_grace = kill_grace_seconds
        self._path = path_variable or host_path()
        self._max_log_bytes = max_log_bytes
        self._log_waiter = log_waiter
        self._unpack_limits = unpack_limits or Limits()
        self._listener: RunnerListener | None = None
        self._running: dict[str, Run] = {}
        self._lock = threading.Lock()
        private_dir(work_dir)
        private_dir(log_dir)
        self._tracking = RunTracking(work_dir, kill_grace_seconds, cgroups=cgroups)
        self._adopt_orphans = adopt_orphans and become_subreaper()
        if self._adopt_orphans:
            threading.Thread(
                target=reap_forever, args=(self._reap_orphans,), name="reap-orphans", daemon=True
            ).start()

    @property
    def tracking(self) -> str:
        """How runs' processes are tracked: "cgroup" (and the marker), or "marker" only."""
        return "cgroup" if self._tracking.cgroup_base is not None else "marker"

    def subscribe(self, listener: RunnerListener) -> None:
        self._listener = listener

    def launch(self, spec: LaunchSpec) -> LaunchResult:
        workdir = self._work_dir / spec.execution_id
        stream = log_stream_name(spec.execution_id)
        try:
            workdir.mkdir(mode=DIR_MODE, parents=True)
        except OSError as exc:
            raise LaunchFailed(f"cannot prepare the working directory: {exc.strerror}") from exc
        try:
            stdin = open(spec.stdin_location, "rb") if spec.stdin_location else None  # noqa: SIM115
        except OSError as exc:
            _remove(workdir)
            raise LaunchFailed(f"cannot open the stdin upload: {exc.strerror}") from exc
        steps = setup_steps(
            spec,
            workdir,
            self._scratch_dir(spec.execution_id),
            self._base_environment(spec.execution_id),
            self._unpack_limits,
            lambda commit: self._report_commit(spec.execution_id, commit),
        )
        writer = LogFileWriter(self._log_dir / stream, self._max_log_bytes, self._clock)
        cgroup = self._tracking.make_cgroup(spec.execution_id)
        limited = limit_cgroup(cgroup, spec.cpu, spec.memory)  # see adapters/local/limits.py
        # Without a cgroup memory controller, every process of the run gets RLIMIT_AS instead.
        memory_rlimit = spec.memory if "memory" not in limited else None
        try:
            # Under the lock: the orphan reaper must never take a child not yet registered.
            with self._lock:
                if steps:  # the first step runs as the run's process; the rest after it
                    process = start_process(
                        steps[0].argv, workdir, steps[0].env, None, cgroup, None
                    )
                else:
                    env = self._environment(spec, workdir)
                    argv = ["sh", "-c", spec.command]
                    process = start_process(argv, workdir, env, stdin, cgroup, memory_rlimit)
                running = Run(spec.execution_id, process, cgroup, memory_rlimit)
                self._running[spec.execution_id] = running
        except (OSError, ValueError) as exc:
            writer.close()
            _remove(workdir)
            self._tracking.remove_cgroup(cgroup)
            if stdin is not None:
                stdin.close()
            reason = exc.strerror if isinstance(exc, OSError) else None
            raise LaunchFailed(reason or str(exc)) from exc
        if stdin is not None and not steps:
            stdin.close()
            stdin = None
        threading.Thread(
            target=self._watch,
            args=(spec, running, writer, workdir, steps, stdin),
            name=f"watch-{spec.execution_id[:8]}",
            daemon=True,
        ).start()
        return LaunchResult(task_ref=str(process.pid), log_stream_name=stream)

    def stop(self, execution: Execution, reason: str) -> None:
        with self._lock:
            running = self._running.get(execution.execution_id)
        if running is not None:
            self._tracking.stop(running)

    def lost(self, executions: Sequence[Execution]) -> set[str]:
        with self._lock:
            return {e.execution_id for e in executions if e.execution_id not in self._running}

    def release(self, execution: Execution) -> None:
        """Nothing to free: a run holds nothing beyond its processes."""

    def stop_all(self) -> None:
        """End every run (server shutdown): SIGTERM all their processes, SIGKILL what is left
        after the kill grace, and return once they are gone (or the grace and a little more
        have passed), so nothing outlives the server."""
        with self._lock:
            running = list(self._running.values())
        for item in running:
            item.stop_requested.set()
            self._tracking.signal(item, signal.SIGTERM)
        deadline = time.monotonic() + self._kill_grace
        while time.monotonic() < deadline and any(i.process.poll() is None for i in running):
            time.sleep(0.02)
        for item in running:
            self._tracking.kill(item)
        settle = time.monotonic() + KILL_SETTLE_SECONDS
        while self.active_count and time.monotonic() < settle:
            time.sleep(0.02)
        self._sweep_cgroups()

    def kill_leftovers(self, executions: Sequence[Execution]) -> int:
        """After a restart: kill what a dead server's runs left (their process groups, their
        cgroups, anything carrying their marker). Returns how many runs had something left."""
        found = sum(
            self._tracking.kill_leftovers(execution.execution_id, execution.task_ref)
            for execution in executions
        )
        self._sweep_cgroups()
        self._clear_work_dir()
        return found

    def _clear_work_dir(self) -> None:
        """Remove every run's working copy and checkout scratch (a deploy key among them):
        a server that died could not, and after a restart no run of this runner is left."""
        with self._lock:
            if self._running:
                return
            try:
                entries = list(self._work_dir.iterdir())
            except OSError:
                logger.exception("could not list %s", self._work_dir)
                return
            for entry in entries:
                _remove(entry)

    def _sweep_cgroups(self) -> None:
        with self._lock:
            watched = set(self._running)
        self._tracking.sweep_cgroups(watched)

    @property
    def active_count(self) -> int:
        with self._lock:
            return len(self._running)

    # -- internals --------------------------------------------------------------------------

    def _markers(self, execution_id: str) -> dict[str, str]:
        """The run's marker: every process of it carries these (see processes.py)."""
        return {EXECUTION_ID_VARIABLE: execution_id, RUNNER_VARIABLE: self._tracking.runner_id}

    def _base_environment(self, execution_id: str) -> dict[str, str]:
        """What a setup step gets: PATH, LANG and the run's marker (so its processes are
        tracked like the command's)."""
        return {"PATH": self._path, "LANG": "C.UTF-8", **self._markers(execution_id)}

    def _environment(self, spec: LaunchSpec, workdir: Path) -> dict[str, str]:
        return run_environment(
            home=str(workdir),
            variables={**spec.env, **spec.secrets},
            path=self._path,
            markers=self._markers(spec.execution_id),
        )

    def _scratch_dir(self, execution_id: str) -> Path:
        """The checkout's private HOME and key file: next to the working directory, never
        in it (the command does not see it), removed with it."""
        return self._work_dir / f"{execution_id}.git-setup"

    def _report_commit(self, execution_id: str, commit: str) -> None:
        if self._listener is not None:
            self._listener.on_git_commit(execution_id, commit)

    def _watch(
        self,
        spec: LaunchSpec,
        running: Run,
        writer: LogFileWriter,
        workdir: Path,
        steps: Sequence[SetupStep] = (),
        stdin: IO[bytes] | None = None,
    ) -> None:
        if self._listener is not None:
            self._listener.on_running(spec.execution_id)
        deadline = time.monotonic() + spec.timeout_seconds
        try:
            for index, step in enumerate(steps):
                following = steps[index + 1] if index + 1 < len(steps) else None
                ended = finish_step(step, running, self._tracking, deadline)
                if ended is None:
                    ended = self._start_next(spec, running, workdir, following, stdin)
                if ended is not None:
                    self._end(spec, running, writer, workdir, ended)
                    return
        finally:
            if stdin is not None:
                stdin.close()
        self._end(
            spec, running, writer, workdir, self._run_command(spec, running, writer, deadline)
        )

    def _start_next(
        self,
        spec: LaunchSpec,
        running: Run,
        workdir: Path,
        step: SetupStep | None,
        stdin: IO[bytes] | None,
    ) -> Ended | None:
        """Start the next setup step, or (`step` None) the command, in place of the last
        step; None once started, else how the run ended."""
        try:
            with self._lock:
                if running.stop_requested.is_set():
                    return Ended(exit_code_of(-signal.SIGTERM))
                if step is not None:
                    running.process = start_process(
                        step.argv, workdir, step.env, None, running.cgroup, None
                    )
                else:
                    subdir = spec.git.subdir if spec.git is not None else None
                    running.process = start_process(
                        ["sh", "-c", spec.command],
                        workdir / subdir if subdir else workdir,
                        self._environment(spec, workdir),
                        stdin,
                        running.cgroup,
                        running.memory_rlimit,
                    )
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else None
            return Ended(reason=f"failed to start: {reason or exc}")
        # A stop that came while the process was starting signalled the last one: pass it on.
        if running.stop_requested.is_set():
            self._tracking.signal(running, signal.SIGTERM)
        return None

    def _run_command(
        self, spec: LaunchSpec, running: Run, writer: LogFileWriter, deadline: float
    ) -> Ended:
        """Log the command's output as it comes (secret values masked) until it exits or
        times out; how it ended."""
        process = running.process

        def store(kind: int, data: bytes) -> None:
            if writer.write(kind, data) and self._listener is not None:
                self._listener.on_log_truncated(spec.execution_id, writer.size)
            if self._log_waiter is not None:
                self._log_waiter.grew(spec.execution_id, writer.size)

        pump = ProcessOutput(process, store, [value.encode() for value in spec.secrets.values()])
        pump.start()
        timed_out = False
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.001))
        except subprocess.TimeoutExpired:
            timed_out = True
            self._tracking.stop(running)
            process.wait()
        # What the command left behind (in the background, escaped with setsid or a double
        # fork) ends with it; it would also keep the output pipes open.
        self._tracking.kill(running)
        pump.finish(PIPE_DRAIN_SECONDS)
        return Ended(exit_code_of(process.returncode), timed_out)

    def _end(
        self,
        spec: LaunchSpec,
        running: Run,
        writer: LogFileWriter,
        workdir: Path,
        ended: Ended,
    ) -> None:
        """Report how a run whose processes are gone ended (its status recorded, its lock
        freed), then clean up; it stays active until its directories are removed."""
        writer.close()
        self._tracking.remove_cgroup(running.cgroup)
        if self._adopt_orphans:
            self._reap_orphans()  # what the run left is gone once its end is reported
        try:
            if self._listener is not None:
                if ended.reason is not None:
                    self._listener.on_setup_failed(spec.execution_id, ended.reason)
                else:
                    self._listener.on_exit(
                        spec.execution_id, ended.exit_code, timed_out=ended.timed_out
                    )
            if self._log_waiter is not None:
                self._log_waiter.ended(spec.execution_id)
        finally:
            _remove(workdir)
            _remove(self._scratch_dir(spec.execution_id))
            with self._lock:
                self._running.pop(spec.execution_id, None)

    def _reap_orphans(self) -> None:
        with self._lock:
            reap_orphans({running.process.pid for running in self._running.values()})
