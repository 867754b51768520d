"""A task's volumes on this host: each volume is a directory of the task's own, and each
container sees it at its mount point's absolute path.

- NAMESPACE (root, with util-linux's `unshare` and `mount`): the container's process runs
  in a private mount namespace (`unshare --mount --propagation private`) where the volume's
  directory is bind-mounted at the real path (`/mycli`), read-only where the mount point
  says so. Concurrent tasks each see their own `/mycli`. The mount point directory is
  created on the host if missing (left empty there; nothing is written through it).
- PREFIX (anywhere else): no namespace; each container gets a root directory of its own
  where `<root>/mycli` links to the volume, the environment variable TWIN_ROOT names that
  root, and the working directory is `<root><workingDirectory>`. A command that names
  `/mycli` literally does not see the volume; read-only is not enforced.

Paths travel as argv to a fixed script, never inside shell text."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from twin.ecs.task_definition import MountPoint

PREFIX_VARIABLE = "TWIN_ROOT"
# The container cannot start (mount, working directory or executable): ECS's
# CannotStartContainerError. The reason is in the failure file.
START_FAILED = 125
# argv: failure file, working directory ("" for none), mount count, then per mount
# (source, target, "ro"|"rw"), then the container's own argv.
ENTER_SCRIPT = """
fail() { printf '%s\\n' "$1" > "$failure"; exit 125; }
failure=$1; workdir=$2; count=$3; shift 3
while [ "$count" -gt 0 ]; do
  mkdir -p "$2" || fail "cannot create the mount point $2"
  mount --bind "$1" "$2" || fail "cannot bind-mount the volume at $2"
  if [ "$3" = ro ]; then
    mount -o remount,bind,ro "$2" || fail "cannot make $2 read-only"
  fi
  shift 3; count=$((count - 1))
done
if [ -n "$workdir" ]; then
  mkdir -p "$workdir" && cd "$workdir" || fail "cannot enter the working directory $workdir"
fi
command -v "$1" > /dev/null 2>&1 || fail "executable file not found: $1"
exec "$@"
"""


class VolumeMode(Enum):
    NAMESPACE = "namespace"
    PREFIX = "prefix"


@functools.cache
def detect_mode() -> VolumeMode:
    """NAMESPACE where a private mount namespace can be made (root, util-linux), else PREFIX."""
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("mount"):
        return VolumeMode.PREFIX
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "true"],
        capture_output=True,
        check=False,
        timeout=10,
    )
    return VolumeMode.NAMESPACE if probe.returncode == 0 else VolumeMode.PREFIX


@dataclass(frozen=True)
class Bind:
    """A volume's host directory at a container's mount point."""

    source: Path
    mount: MountPoint


@dataclass(frozen=True)
class Launch:
    """How to start a container's process: argv, working directory, added environment,
    and where a wrapper records why the container could not start (if it could not)."""

    argv: list[str]
    cwd: str
    environment: dict[str, str] = field(default_factory=dict)
    failure_file: Path | None = None


def plan_launch(
    mode: VolumeMode,
    argv: Sequence[str],
    *,
    working_directory: str | None,
    binds: Sequence[Bind],
    container_root: Path,
) -> Launch:
    """The process that runs `argv` with the binds in place and in the working directory."""
    if mode is VolumeMode.PREFIX:
        return _prefix_launch(argv, working_directory, binds, container_root)
    if not binds:
        cwd = working_directory or "/"
        Path(cwd).mkdir(parents=True, exist_ok=True)  # as the engine makes WORKDIR
        return Launch(argv=list(argv), cwd=cwd)
    failure = container_root / "start-failure"
    container_root.mkdir(parents=True, exist_ok=True)
    mounts = [
        part
        for bind in binds
        for part in (
            str(bind.source),
            bind.mount.container_path,
            "ro" if bind.mount.read_only else "rw",
        )
    ]
    wrapped = [
        *("unshare", "--mount", "--propagation", "private", "--"),
        *("sh", "-c", ENTER_SCRIPT, "twin-enter"),
        *(str(failure), working_directory or "", str(len(binds)), *mounts),
        *argv,
    ]
    return Launch(argv=wrapped, cwd="/", failure_file=failure)


def _prefix_launch(
    argv: Sequence[str],
    working_directory: str | None,
    binds: Sequence[Bind],
    root: Path,
) -> Launch:
    root.mkdir(parents=True, exist_ok=True)
    for bind in binds:
        link = root / bind.mount.container_path.lstrip("/")
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.is_symlink():
            link.symlink_to(bind.source, target_is_directory=True)
    cwd = root / (working_directory or "/").lstrip("/")
    cwd.mkdir(parents=True, exist_ok=True)
    # PWD keeps the path through the volume's link, as a shell that `cd`'d there has it.
    return Launch(
        argv=list(argv), cwd=str(cwd), environment={PREFIX_VARIABLE: str(root), "PWD": str(cwd)}
    )
