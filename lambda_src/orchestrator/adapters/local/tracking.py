"""One runner's runs and their processes: a run's current process (a setup step, then the
command), how it is stopped (SIGTERM, SIGKILL after the grace) and killed (its process
group, its cgroup, every process carrying its marker), and the runner's run cgroups."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from orchestrator.adapters.local.limits import with_memory_rlimit
from orchestrator.adapters.local.processes import (
    CGROUP_ENTRY,
    cgroup_pids,
    kill_cgroup,
    kill_marked,
    kill_orphaned_group,
    marked_pids,
    marker,
    run_cgroup_base,
    runner_id,
    signal_group,
    signal_pid,
)


@dataclass
class Run:
    execution_id: str
    process: subprocess.Popen[bytes]
    cgroup: Path | None = None
    memory_rlimit: int | None = None  # MiB, when no cgroup limits the run's memory
    stop_requested: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class Ended:
    """How a run ended: its exit code (and whether it timed out), or, when its set-up failed
    and the command never ran, why."""

    exit_code: int = 0
    timed_out: bool = False
    reason: str | None = None


def start_process(
    argv: list[str],
    cwd: Path,
    env: dict[str, str],
    stdin: IO[bytes] | None,
    cgroup: Path | None,
    memory_rlimit: int | None,
) -> subprocess.Popen[bytes]:
    """`argv` in its own session (and the run's cgroup, or under RLIMIT_AS of
    `memory_rlimit` MiB), output to pipes."""
    if cgroup is not None:
        argv = ["sh", "-c", CGROUP_ENTRY, "sh", str(cgroup / "cgroup.procs"), *argv]
    if memory_rlimit is not None:
        argv = with_memory_rlimit(argv, memory_rlimit)
    return subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=stdin if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


class RunTracking:
    """Finds and ends the processes of this runner's runs (see processes.py)."""

    def __init__(self, work_dir: Path, kill_grace_seconds: float, *, cgroups: bool) -> None:
        self.runner_id = runner_id(work_dir)
        self.cgroup_base = run_cgroup_base(work_dir) if cgroups else None
        self._kill_grace = kill_grace_seconds
        self._cgroup_lock = threading.Lock()

    def marker(self, execution_id: str) -> frozenset[bytes]:
        """The environment entries every process of the run carries."""
        return marker(execution_id, self.runner_id)

    def stop(self, run: Run) -> None:
        """SIGTERM every process of the run now, SIGKILL them if the main process is still
        alive after the grace period (once it exits, the watcher kills the rest)."""
        if run.stop_requested.is_set():
            return
        run.stop_requested.set()
        self.signal(run, signal.SIGTERM)

        def kill_after_grace() -> None:
            deadline = time.monotonic() + self._kill_grace
            while time.monotonic() < deadline:
                if run.process.returncode is not None:
                    return
                time.sleep(0.05)
            self.kill(run)

        threading.Thread(target=kill_after_grace, daemon=True).start()

    def signal(self, run: Run, signum: int) -> None:
        """`signum` to the run's process group, its cgroup's processes and its marked ones."""
        signal_group(run.process.pid, signum)
        pids = set(marked_pids(self.marker(run.execution_id)))
        if run.cgroup is not None:
            pids |= cgroup_pids(run.cgroup)
        for pid in pids:
            signal_pid(pid, signum)

    def kill(self, run: Run) -> None:
        """SIGKILL every process of the run and wait (a little) until they are gone."""
        signal_group(run.process.pid, signal.SIGKILL)
        if run.cgroup is not None:
            kill_cgroup(run.cgroup)
        kill_marked(self.marker(run.execution_id))

    def kill_leftovers(self, execution_id: str, task_ref: str | None) -> bool:
        """What a dead server's run left (its process group, its cgroup, anything carrying
        its marker) killed; whether there was anything."""
        hit = False
        if task_ref and task_ref.isdigit():
            hit = kill_orphaned_group(int(task_ref), execution_id)
        cgroup = self.cgroup_path(execution_id)
        if cgroup is not None and cgroup.is_dir():
            hit = bool(cgroup_pids(cgroup)) or hit
            kill_cgroup(cgroup)
            self.remove_cgroup(cgroup)
        return kill_marked(self.marker(execution_id)) or hit

    def cgroup_path(self, execution_id: str) -> Path | None:
        return self.cgroup_base / execution_id if self.cgroup_base is not None else None

    def make_cgroup(self, execution_id: str) -> Path | None:
        cgroup = self.cgroup_path(execution_id)
        if cgroup is None:
            return None
        try:
            with self._cgroup_lock:
                cgroup.mkdir(parents=True, exist_ok=True)
        except OSError:
            return None  # tracked by the marker alone
        return cgroup

    def remove_cgroup(self, cgroup: Path | None) -> None:
        if cgroup is None:
            return
        with self._cgroup_lock, contextlib.suppress(OSError):
            cgroup.rmdir()
            cgroup.parent.rmdir()  # only when no other run is in it

    def sweep_cgroups(self, watched: set[str]) -> None:
        """Kill and remove every run cgroup of this runner no watcher is looking after (a
        dead server's, or what a stopping server had no time to remove)."""
        base = self.cgroup_base
        if base is None or not base.is_dir():
            return
        for cgroup in base.iterdir():
            if cgroup.is_dir() and cgroup.name not in watched:
                kill_cgroup(cgroup)
                self.remove_cgroup(cgroup)
