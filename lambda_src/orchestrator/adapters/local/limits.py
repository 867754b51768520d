"""What an image's size means on the embedded host, where commands run on the host itself.

- memory (MiB): the run cgroup's `memory.max` where the run has a cgroup v2 with the memory
  controller (the server's cgroup delegates it); otherwise RLIMIT_AS (`ulimit -v`, soft and
  hard) on the command's shell, inherited by everything it starts. RLIMIT_AS counts address
  space, not resident memory: programs that reserve much more than they use (Java, Go) may
  need a larger size.
- cpu (Fargate units, 1024 = one CPU): the run cgroup's `cpu.max` (quota cpu/1024 of each
  100 ms period) where the cpu controller is available; otherwise no CPU limit."""

from __future__ import annotations

import contextlib
from pathlib import Path

CPU_PERIOD_MICROSECONDS = 100_000
# The command's shell lowers its address-space limit, then becomes the command (same pid).
RLIMIT_ENTRY = 'ulimit -v "$1" || exit 125; shift; exec "$@"'


def limit_cgroup(cgroup: Path | None, cpu: int | None, memory: int | None) -> set[str]:
    """Write the run's limits into its cgroup; the names of those the cgroup took."""
    applied: set[str] = set()
    if cgroup is None or (cpu is None and memory is None):
        return applied
    for controller in ("memory", "cpu"):
        with contextlib.suppress(OSError):  # the parent may not delegate it
            (cgroup.parent / "cgroup.subtree_control").write_text(f"+{controller}")
    if memory is not None and _write(cgroup / "memory.max", str(memory * 1024 * 1024)):
        applied.add("memory")
    if cpu is not None:
        quota = max(1000, cpu * CPU_PERIOD_MICROSECONDS // 1024)
        if _write(cgroup / "cpu.max", f"{quota} {CPU_PERIOD_MICROSECONDS}"):
            applied.add("cpu")
    return applied


def with_memory_rlimit(argv: list[str], memory: int) -> list[str]:
    """`argv` run under RLIMIT_AS of `memory` MiB."""
    return ["sh", "-c", RLIMIT_ENTRY, "sh", str(memory * 1024), *argv]


def _write(path: Path, value: str) -> bool:
    try:
        if not path.exists():
            return False
        path.write_text(value)
    except OSError:
        return False
    return True
