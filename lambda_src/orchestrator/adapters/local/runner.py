"""Runs each execution as `sh -c COMMAND` in its own process group and working directory,
with a minimal environment and the given stdin (else /dev/null); stores stdout and stderr,
read from separate pipes, byte for byte in the execution's log files; enforces the timeout
and cancels by terminating every process of the run, killing them after a grace period.

A run's processes are tracked by what they cannot leave by forking, `setsid` or a double
fork: a cgroup v2 of its own where this host lets the server make one (the command moves
itself in before it execs, and `cgroup.kill` ends the whole cgroup at once), and always the
`MYCLI_EXECUTION_ID` marker in their environment, found by scanning /proc. When the run's
main process exits, times out or is cancelled, or the server stops, every process found
either way is killed, and the run's end is reported without waiting for output pipes an
escaped process might still hold. A server that adopts orphans (PR_SET_CHILD_SUBREAPER)
reaps the double-forked ones it inherits.

A run with a git source first runs the checkout script (orchestrator.git_checkout) as its
process, tracked and timed like the command; the command starts in its place once the
checkout has succeeded, or the run ends without it (FAILED with the reason, or cancelled or
timed out)."""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import selectors
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from orchestrator.adapters.local.limits import limit_cgroup, with_memory_rlimit
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
from orchestrator.git_checkout import CHECKOUT_SCRIPT, commit_of, reason_of
from orchestrator.masking import Masker
from orchestrator.ports import Clock, RunnerListener
from orchestrator.unpack import UnsafeArchive, safe_extract

EXECUTION_ID_VARIABLE = "MYCLI_EXECUTION_ID"
# Which runner (data directory) a process belongs to: with the execution id, the marker a
# scan of /proc looks for, so two servers (or test runs) never touch each other's processes.
RUNNER_VARIABLE = "MYCLI_RUNNER"
READ_BYTES = 256 * 1024
# Once every process of a run is gone its pipes hold at most a pipe buffer: this is plenty to
# drain it; past it, an untracked holder of the pipes is not waited for.
PIPE_DRAIN_SECONDS = 2.0
KILL_SETTLE_SECONDS = 2.0
ORPHAN_REAP_INTERVAL_SECONDS = 5.0
PR_SET_CHILD_SUBREAPER = 36
# The command moves itself into the run's cgroup before anything of the user's runs, then
# becomes `sh -c COMMAND` exactly as without one ($0 "sh", same pid and process group).
CGROUP_ENTRY = '{ echo 0 > "$1"; } 2>/dev/null; exec sh -c "$2"'


@dataclass
class _Running:
    execution_id: str
    process: subprocess.Popen[bytes]
    cgroup: Path | None = None
    memory_rlimit: int | None = None  # MiB, when no cgroup limits the run's memory
    stop_requested: threading.Event = field(default_factory=threading.Event)
    drained: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class _Ended:
    """How a run ended: its exit code (and whether it timed out), or, when its set-up failed
    and the command never ran, why."""

    exit_code: int = 0
    timed_out: bool = False
    reason: str | None = None


def exit_code_of(returncode: int) -> int:
    """A shell's exit code for a process's: 128 + N when signal N ended it."""
    return returncode if returncode >= 0 else 128 - returncode


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
        self._runner_id = runner_id(work_dir)
        self._cgroup_base = run_cgroup_base(work_dir) if cgroups else None
        self._adopt_orphans = adopt_orphans and become_subreaper()
        if self._adopt_orphans:
            threading.Thread(target=self._reap_forever, name="reap-orphans", daemon=True).start()

    @property
    def tracking(self) -> str:
        """How runs' processes are tracked: "cgroup" (and the marker), or "marker" only."""
        return "cgroup" if self._cgroup_base is not None else "marker"

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
        cgroup = self._make_cgroup(spec.execution_id)
        limited = limit_cgroup(cgroup, spec.cpu, spec.memory)  # see adapters/local/limits.py
        # Without a cgroup memory controller, every process of the run gets RLIMIT_AS instead.
        memory_rlimit = spec.memory if "memory" not in limited else None
        try:
            # Under the lock: the orphan reaper must never take a child not yet registered.
            with self._lock:
                if spec.git is None:
                    env = self._environment(spec, workdir)
                    process = self._start(spec.command, workdir, env, stdin, cgroup, memory_rlimit)
                else:  # the checkout runs first, as the run's process; the command after it
                    env = self._checkout_environment(spec, workdir)
                    process = self._start(CHECKOUT_SCRIPT, workdir, env, None, cgroup, None)
                running = _Running(spec.execution_id, process, cgroup, memory_rlimit)
                self._running[spec.execution_id] = running
        except (OSError, ValueError) as exc:
            writer.close()
            shutil.rmtree(workdir, ignore_errors=True)
            self._remove_cgroup(cgroup)
            if stdin is not None:
                stdin.close()
            reason = exc.strerror if isinstance(exc, OSError) else None
            raise LaunchFailed(reason or str(exc)) from exc
        if stdin is not None and spec.git is None:
            stdin.close()
            stdin = None
        threading.Thread(
            target=self._watch,
            args=(spec, running, writer, workdir, stdin),
            name=f"watch-{spec.execution_id[:8]}",
            daemon=True,
        ).start()
        return LaunchResult(task_ref=str(process.pid), log_stream_name=stream)

    def _start(
        self,
        script: str,
        cwd: Path,
        env: dict[str, str],
        stdin: IO[bytes] | None,
        cgroup: Path | None,
        memory_rlimit: int | None,
    ) -> subprocess.Popen[bytes]:
        """`sh -c script` in its own session (and the run's cgroup, or under RLIMIT_AS of
        `memory_rlimit` MiB), output to pipes."""
        argv = ["sh", "-c", script]
        if cgroup is not None:
            argv = ["sh", "-c", CGROUP_ENTRY, "sh", str(cgroup / "cgroup.procs"), script]
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

    def stop(self, execution: Execution, reason: str) -> None:
        with self._lock:
            running = self._running.get(execution.execution_id)
        if running is not None:
            self._stop(running)

    def lost(self, executions: Sequence[Execution]) -> set[str]:
        with self._lock:
            return {e.execution_id for e in executions if e.execution_id not in self._running}

    def stop_all(self) -> None:
        """End every run (server shutdown): SIGTERM all their processes, SIGKILL what is left
        after the kill grace, and return once they are gone (or the grace and a little more
        have passed), so nothing outlives the server."""
        with self._lock:
            running = list(self._running.values())
        for item in running:
            item.stop_requested.set()
            self._signal_run(item, signal.SIGTERM)
        deadline = time.monotonic() + self._kill_grace
        while time.monotonic() < deadline and any(i.process.poll() is None for i in running):
            time.sleep(0.02)
        for item in running:
            self._kill_run(item)
        settle = time.monotonic() + KILL_SETTLE_SECONDS
        while self.active_count and time.monotonic() < settle:
            time.sleep(0.02)
        self._sweep_cgroups()

    def kill_leftovers(self, executions: Sequence[Execution]) -> int:
        """After a restart: kill what a dead server's runs left (their process groups, their
        cgroups, anything carrying their marker). Returns how many runs had something left."""
        found = 0
        for execution in executions:
            cgroup = self._cgroup_path(execution.execution_id)
            hit = False
            if execution.task_ref and execution.task_ref.isdigit():
                hit = kill_orphaned_group(int(execution.task_ref), execution.execution_id)
            if cgroup is not None and cgroup.is_dir():
                hit = bool(_cgroup_pids(cgroup)) or hit
                _kill_cgroup(cgroup)
                self._remove_cgroup(cgroup)
            hit = _kill_marked(self._marker(execution.execution_id)) or hit
            found += hit
        self._sweep_cgroups()
        self._clear_work_dir()
        return found

    def _clear_work_dir(self) -> None:
        """Remove every run's working copy and checkout scratch (a deploy key among them):
        a server that died could not, and after a restart no run of this runner is left."""
        with self._lock:
            if self._running:
                return
            for entry in self._work_dir.iterdir():
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)

    def _sweep_cgroups(self) -> None:
        """Kill and remove every run cgroup of this runner no watcher is looking after (a
        dead server's, or what a stopping server had no time to remove)."""
        base = self._cgroup_base
        if base is None or not base.is_dir():
            return
        with self._lock:
            watched = set(self._running)
        for cgroup in base.iterdir():
            if cgroup.is_dir() and cgroup.name not in watched:
                _kill_cgroup(cgroup)
                self._remove_cgroup(cgroup)

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
            **spec.secrets,
            EXECUTION_ID_VARIABLE: spec.execution_id,
            RUNNER_VARIABLE: self._runner_id,
        }

    def _checkout_environment(self, spec: LaunchSpec, workdir: Path) -> dict[str, str]:
        """The checkout script's inputs (see orchestrator.git_checkout), with the run's
        marker so its git and ssh processes are tracked like the command's."""
        assert spec.git is not None
        env = {
            "PATH": self._path,
            "LANG": "C.UTF-8",
            "MYCLI_GIT_URL": spec.git.url,
            "MYCLI_GIT_REF": spec.git.ref or "",
            "MYCLI_GIT_SUBDIR": spec.git.subdir or "",
            "MYCLI_GIT_TARGET": str(workdir),
            "MYCLI_GIT_SCRATCH": str(self._scratch_dir(spec.execution_id)),
            EXECUTION_ID_VARIABLE: spec.execution_id,
            RUNNER_VARIABLE: self._runner_id,
        }
        if spec.git.credential:
            env["MYCLI_GIT_CREDENTIAL"] = spec.git.credential
        return env

    def _scratch_dir(self, execution_id: str) -> Path:
        """The checkout's private HOME and key file: next to the working directory, never
        in it (the command does not see it), removed with it."""
        return self._work_dir / f"{execution_id}.git-setup"

    def _check_out(
        self,
        spec: LaunchSpec,
        running: _Running,
        workdir: Path,
        deadline: float,
        stdin: IO[bytes] | None,
    ) -> _Ended | None:
        """Wait for the run's checkout, then start its command in place of it (None); or
        how the run ended without its command (failed, cancelled or timed out)."""
        assert spec.git is not None
        checkout = running.process
        timed_out = False
        try:
            out, err = checkout.communicate(timeout=max(deadline - time.monotonic(), 0.001))
        except subprocess.TimeoutExpired:
            timed_out = True
            self._stop(running)
            out, err = checkout.communicate()
        self._kill_run(running)
        if timed_out or running.stop_requested.is_set():
            return _Ended(exit_code_of(checkout.returncode), timed_out=timed_out)
        if checkout.returncode != 0:
            text = err.decode(errors="replace")
            return _Ended(reason=reason_of(text, exit_code_of(checkout.returncode)))
        commit = commit_of(out.decode(errors="replace"))
        if commit is not None and self._listener is not None:
            self._listener.on_git_commit(spec.execution_id, commit)
        cwd = workdir / spec.git.subdir if spec.git.subdir else workdir
        try:
            with self._lock:
                if running.stop_requested.is_set():
                    return _Ended(exit_code_of(-signal.SIGTERM))
                env = self._environment(spec, workdir)
                running.process = self._start(
                    spec.command, cwd, env, stdin, running.cgroup, running.memory_rlimit
                )
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else None
            return _Ended(reason=f"failed to start: {reason or exc}")
        finally:
            if stdin is not None:
                stdin.close()
        # A stop that came while the command was starting signalled the checkout: pass it on.
        if running.stop_requested.is_set():
            self._signal_run(running, signal.SIGTERM)
        return None

    def _watch(
        self,
        spec: LaunchSpec,
        running: _Running,
        writer: LogFileWriter,
        workdir: Path,
        stdin: IO[bytes] | None = None,
    ) -> None:
        if self._listener is not None:
            self._listener.on_running(spec.execution_id)
        deadline = time.monotonic() + spec.timeout_seconds
        if spec.git is not None:
            ended = self._check_out(spec, running, workdir, deadline, stdin)
            if ended is not None:
                self._end(spec, running, writer, workdir, ended)
                return
        process = running.process
        wake_read, wake_write = os.pipe()
        # Secret values never reach the log: each stream is masked on its way there.
        values = [value.encode() for value in spec.secrets.values()]
        maskers = {STDOUT: Masker(values), STDERR: Masker(values)} if values else {}
        pump = threading.Thread(
            target=self._pump,
            args=(spec.execution_id, process, writer, wake_read, maskers),
            daemon=True,
        )
        pump.start()
        timed_out = False
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.001))
        except subprocess.TimeoutExpired:
            timed_out = True
            self._stop(running)
            process.wait()
        # What the command left behind (in the background, escaped with setsid or a double
        # fork) ends with it; it would also keep the output pipes open.
        self._kill_run(running)
        pump.join(PIPE_DRAIN_SECONDS)
        if pump.is_alive():  # a process we could not find holds the pipes: stop reading
            os.write(wake_write, b"x")
            pump.join()
        for fd in (wake_read, wake_write):
            os.close(fd)
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()
        self._end(
            spec, running, writer, workdir, _Ended(exit_code_of(process.returncode), timed_out)
        )

    def _end(
        self,
        spec: LaunchSpec,
        running: _Running,
        writer: LogFileWriter,
        workdir: Path,
        ended: _Ended,
    ) -> None:
        """Clean up after a run whose processes are gone, then report how it ended."""
        writer.close()
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(self._scratch_dir(spec.execution_id), ignore_errors=True)
        self._remove_cgroup(running.cgroup)
        with self._lock:
            self._running.pop(spec.execution_id, None)
        if self._adopt_orphans:
            self._reap_orphans()
        if self._listener is not None:
            if ended.reason is not None:
                self._listener.on_setup_failed(spec.execution_id, ended.reason)
            else:
                self._listener.on_exit(
                    spec.execution_id, ended.exit_code, timed_out=ended.timed_out
                )
        if self._log_waiter is not None:
            self._log_waiter.ended(spec.execution_id)

    def _pump(
        self,
        execution_id: str,
        process: subprocess.Popen[bytes],
        writer: LogFileWriter,
        wake_fd: int,
        maskers: dict[int, Masker] | None = None,
    ) -> None:
        """Copy both pipes to the log as the bytes arrive: no lines, nothing changed but
        secret values masked (`maskers`, per stream). Returns at the end of both pipes, or
        when `wake_fd` becomes readable."""
        assert process.stdout is not None and process.stderr is not None
        maskers = maskers or {}

        def store(kind: int, data: bytes) -> None:
            if writer.write(kind, data) and self._listener is not None:
                self._listener.on_log_truncated(execution_id, writer.size)
            if self._log_waiter is not None:
                self._log_waiter.grew(execution_id, writer.size)

        try:
            self._copy_pipes(process, wake_fd, maskers, store)
        finally:
            for kind, masker in maskers.items():
                store(kind, masker.flush())

    def _copy_pipes(
        self,
        process: subprocess.Popen[bytes],
        wake_fd: int,
        maskers: dict[int, Masker],
        store: Callable[[int, bytes], None],
    ) -> None:
        assert process.stdout is not None and process.stderr is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout.fileno(), selectors.EVENT_READ, STDOUT)
            selector.register(process.stderr.fileno(), selectors.EVENT_READ, STDERR)
            selector.register(wake_fd, selectors.EVENT_READ, None)
            while len(selector.get_map()) > 1:
                for key, _ in selector.select():
                    if key.data is None:
                        return
                    data = os.read(key.fd, READ_BYTES)
                    masker = maskers.get(key.data)
                    if not data:
                        selector.unregister(key.fd)
                        if masker is not None:
                            store(key.data, masker.flush())
                        continue
                    store(key.data, masker.feed(data) if masker is not None else data)

    def _stop(self, running: _Running) -> None:
        """SIGTERM every process of the run now, SIGKILL them if the main process is still
        alive after the grace period (once it exits, the watcher kills the rest)."""
        if running.stop_requested.is_set():
            return
        running.stop_requested.set()
        self._signal_run(running, signal.SIGTERM)

        def kill_after_grace() -> None:
            deadline = time.monotonic() + self._kill_grace
            while time.monotonic() < deadline:
                if running.process.returncode is not None:
                    return
                time.sleep(0.05)
            self._kill_run(running)

        threading.Thread(target=kill_after_grace, daemon=True).start()

    def _signal_run(self, running: _Running, signum: int) -> None:
        """`signum` to the run's process group, its cgroup's processes and its marked ones."""
        _signal_group(running.process.pid, signum)
        pids = set(_marked_pids(self._marker(running.execution_id)))
        if running.cgroup is not None:
            pids |= _cgroup_pids(running.cgroup)
        for pid in pids:
            _signal_pid(pid, signum)

    def _kill_run(self, running: _Running) -> None:
        """SIGKILL every process of the run and wait (a little) until they are gone."""
        _signal_group(running.process.pid, signal.SIGKILL)
        if running.cgroup is not None:
            _kill_cgroup(running.cgroup)
        _kill_marked(self._marker(running.execution_id))

    def _marker(self, execution_id: str) -> frozenset[bytes]:
        """The environment entries every process of the run carries."""
        return frozenset(
            {
                f"{EXECUTION_ID_VARIABLE}={execution_id}".encode(),
                f"{RUNNER_VARIABLE}={self._runner_id}".encode(),
            }
        )

    # -- cgroups ----------------------------------------------------------------------------

    def _cgroup_path(self, execution_id: str) -> Path | None:
        return self._cgroup_base / execution_id if self._cgroup_base is not None else None

    def _make_cgroup(self, execution_id: str) -> Path | None:
        cgroup = self._cgroup_path(execution_id)
        if cgroup is None:
            return None
        try:
            with self._lock:
                cgroup.mkdir(parents=True, exist_ok=True)
        except OSError:
            return None  # tracked by the marker alone
        return cgroup

    def _remove_cgroup(self, cgroup: Path | None) -> None:
        if cgroup is None:
            return
        with self._lock, contextlib.suppress(OSError):
            cgroup.rmdir()
            cgroup.parent.rmdir()  # only when no other run is in it

    # -- orphans ----------------------------------------------------------------------------

    def _reap_forever(self) -> None:
        while True:
            time.sleep(ORPHAN_REAP_INTERVAL_SECONDS)
            self._reap_orphans()

    def _reap_orphans(self) -> None:
        """Reap the exited orphans this subreaper adopted: every child that is a zombie and
        not one of the runs' main processes (their watchers reap those)."""
        with self._lock:
            ours = {running.process.pid for running in self._running.values()}
            for pid in _zombie_children():
                if pid not in ours:
                    with contextlib.suppress(ChildProcessError):
                        os.waitpid(pid, os.WNOHANG)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _signal_pid(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signum)


def run_cgroup_base(work_dir: Path) -> Path | None:
    """Where this runner makes its runs' cgroups: a directory, named after `work_dir`, in
    the server's own cgroup of the cgroup v2 hierarchy (/sys/fs/cgroup on a unified host,
    /sys/fs/cgroup/unified on a hybrid one); None where there is none we may write to."""
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
        own = [
            line[3:]
            for line in Path("/proc/self/cgroup").read_text().splitlines()
            if line.startswith("0::")
        ]
    except OSError:
        return None
    points = [fields[1] for fields in map(str.split, mounts) if fields[2:3] == ["cgroup2"]]
    if not own or not points:
        return None
    mount = Path("/sys/fs/cgroup") if "/sys/fs/cgroup" in points else Path(points[0])
    parent = mount / own[0].strip().lstrip("/")
    if not os.access(parent, os.W_OK) or not (parent / "cgroup.procs").exists():
        return None
    return parent / f"mycli-{runner_id(work_dir)}"


def runner_id(work_dir: Path) -> str:
    """Stable for a data directory (a restarted server finds what its predecessor left)."""
    return hashlib.sha256(str(work_dir.resolve()).encode()).hexdigest()[:16]


def _cgroup_pids(cgroup: Path) -> set[int]:
    try:
        return {int(line) for line in (cgroup / "cgroup.procs").read_text().split()}
    except (OSError, ValueError):
        return set()


def _kill_cgroup(cgroup: Path) -> None:
    """SIGKILL every process in `cgroup` (at once with cgroup.kill, else one by one until none
    is left), then wait until it is empty or a moment has passed."""
    deadline = time.monotonic() + KILL_SETTLE_SECONDS
    with contextlib.suppress(OSError):
        (cgroup / "cgroup.kill").write_text("1")
    while time.monotonic() < deadline:
        pids = _cgroup_pids(cgroup)
        if not pids:
            return
        for pid in pids:
            _signal_pid(pid, signal.SIGKILL)
        time.sleep(0.01)


def _marked_pids(marker: frozenset[bytes]) -> list[int]:
    """The processes (other than this one) whose environment carries every entry of
    `marker`."""
    me = os.getpid()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as environ:
                if marker <= set(environ.read().split(b"\0")):
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def _kill_marked(marker: frozenset[bytes]) -> bool:
    """SIGKILL every process carrying the run's marker until none is left (a moment at most);
    whether there was any."""
    deadline = time.monotonic() + KILL_SETTLE_SECONDS
    found = False
    while time.monotonic() < deadline:
        pids = _marked_pids(marker)
        if not pids:
            break
        found = True
        for pid in pids:
            _signal_pid(pid, signal.SIGKILL)
        time.sleep(0.01)
    return found


def _zombie_children() -> list[int]:
    me = os.getpid()
    zombies = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if len(fields) > 1 and fields[0] == "Z" and fields[1] == str(me):
            zombies.append(int(entry.name))
    return zombies


def become_subreaper() -> bool:
    """Make this process adopt its descendants' orphans (Linux PR_SET_CHILD_SUBREAPER), so a
    double-forked process stays in reach; whether that worked."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


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
