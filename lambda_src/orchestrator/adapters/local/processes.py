"""How a run's processes are found and ended, whatever they do to leave: a cgroup v2 of
the run's own where this host lets the server make one (`cgroup.kill` ends it at once), and
always the marker in their environment (the execution id and the runner's id), found by
scanning /proc; a process group; and, for double forks, the server as their subreaper."""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import signal
import time
from pathlib import Path

EXECUTION_ID_VARIABLE = "MYCLI_EXECUTION_ID"
# Which runner (data directory) a process belongs to: with the execution id, the marker a
# scan of /proc looks for, so two servers (or test runs) never touch each other's processes.
RUNNER_VARIABLE = "MYCLI_RUNNER"
KILL_SETTLE_SECONDS = 2.0
PR_SET_CHILD_SUBREAPER = 36
# A run's process moves itself into the run's cgroup before anything else runs, then
# becomes its argv (`sh -c COMMAND` exactly as without one: same pid and process group).
CGROUP_ENTRY = '{ echo 0 > "$1"; } 2>/dev/null; shift; exec "$@"'


def exit_code_of(returncode: int) -> int:
    """A shell's exit code for a process's: 128 + N when signal N ended it."""
    return returncode if returncode >= 0 else 128 - returncode


def marker(execution_id: str, runner: str) -> frozenset[bytes]:
    """The environment entries every process of a run carries."""
    return frozenset(
        {
            f"{EXECUTION_ID_VARIABLE}={execution_id}".encode(),
            f"{RUNNER_VARIABLE}={runner}".encode(),
        }
    )


def signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def signal_pid(pid: int, signum: int) -> None:
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


def cgroup_pids(cgroup: Path) -> set[int]:
    try:
        return {int(line) for line in (cgroup / "cgroup.procs").read_text().split()}
    except (OSError, ValueError):
        return set()


def kill_cgroup(cgroup: Path) -> None:
    """SIGKILL every process in `cgroup` (at once with cgroup.kill, else one by one until none
    is left), then wait until it is empty or a moment has passed."""
    deadline = time.monotonic() + KILL_SETTLE_SECONDS
    with contextlib.suppress(OSError):
        (cgroup / "cgroup.kill").write_text("1")
    while time.monotonic() < deadline:
        pids = cgroup_pids(cgroup)
        if not pids:
            return
        for pid in pids:
            signal_pid(pid, signal.SIGKILL)
        time.sleep(0.01)


def marked_pids(marker: frozenset[bytes]) -> list[int]:
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


def kill_marked(marker: frozenset[bytes]) -> bool:
    """SIGKILL every process carrying the run's marker until none is left (a moment at most);
    whether there was any."""
    deadline = time.monotonic() + KILL_SETTLE_SECONDS
    found = False
    while time.monotonic() < deadline:
        pids = marked_pids(marker)
        if not pids:
            break
        found = True
        for pid in pids:
            signal_pid(pid, signal.SIGKILL)
        time.sleep(0.01)
    return found


def zombie_children() -> list[int]:
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
    signal_group(pid, signal.SIGKILL)
    return True
