"""The embedded meaning of an image's size: what goes into a run cgroup's files (a directory
laid out like one, since this host may not delegate the controllers), and the RLIMIT_AS
fallback on a real shell."""

from __future__ import annotations

import subprocess
from pathlib import Path

from orchestrator.adapters.local.limits import limit_cgroup, with_memory_rlimit


def test_memory_and_cpu_go_into_the_run_cgroup_when_it_has_the_controllers(
    tmp_path: Path,
) -> None:
    # Given a run cgroup with memory.max and cpu.max (the controllers delegated)
    run = tmp_path / "mycli-x" / "run1"
    run.mkdir(parents=True)
    (run / "memory.max").write_text("max")
    (run / "cpu.max").write_text("max 100000")

    # When half a CPU and 1 GiB are applied
    applied = limit_cgroup(run, 512, 1024)

    # Then both files hold them
    assert applied == {"memory", "cpu"}
    assert (run / "memory.max").read_text() == str(1024 * 1024 * 1024)
    assert (run / "cpu.max").read_text() == "50000 100000"


def test_without_the_controllers_nothing_is_claimed(tmp_path: Path) -> None:
    run = tmp_path / "mycli-x" / "run1"
    run.mkdir(parents=True)

    assert limit_cgroup(run, 512, 1024) == set()
    assert limit_cgroup(None, 512, 1024) == set()


def test_the_rlimit_fallback_limits_the_command_and_keeps_its_arguments() -> None:
    argv = with_memory_rlimit(["sh", "-c", 'ulimit -v; echo "$0"', "kept"], 512)

    result = subprocess.run(argv, capture_output=True, text=True, check=True)

    assert result.stdout == f"{512 * 1024}\nkept\n"
