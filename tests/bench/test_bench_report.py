"""bench/common.py's report, through a tiny fake bench run as a real subprocess: a figure over
its target fails a full run and is printed last; --quick prints it but exits 0."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FAKE_BENCH = """
import sys
sys.path.insert(0, sys.argv.pop(1))
from common import Figure, quick_mode, report

quick = quick_mode("A fake bench.")
sys.exit(report([
    Figure("fast thing", "3 ms", "2 ms", "<= 5 ms", True),
    Figure("slow thing", "SLOW", "80 ms", "<= 100 ms", SLOW_MET),
    Figure("context", "42"),
], quick=quick))
"""


def run_fake(tmp_path: Path, slow: str, met: bool, *args: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "fake_bench.py"
    script.write_text(FAKE_BENCH.replace("SLOW_MET", str(met)).replace("SLOW", slow))
    return subprocess.run(
        [sys.executable, str(script), str(ROOT / "bench"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_given_a_figure_over_target_when_a_full_run_reports_then_it_exits_1_saying_so_last(
    tmp_path: Path,
) -> None:
    result = run_fake(tmp_path, "900 ms", False)

    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["measure", "value", "baseline", "target"]
    assert lines[2].split() == ["fast", "thing", "3", "ms", "2", "ms", "<=", "5", "ms", "ok"]
    assert lines[3].split()[-1] == "OVER"
    assert lines[-1] == "OVER: slow thing: 900 ms (target <= 100 ms)"


def test_given_a_figure_over_target_when_a_quick_run_reports_then_it_exits_0_unenforced(
    tmp_path: Path,
) -> None:
    result = run_fake(tmp_path, "900 ms", False, "--quick")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "not enforced (--quick)" in result.stdout.splitlines()[3]
    assert "OVER" not in result.stdout


def test_given_every_figure_within_target_when_a_full_run_reports_then_it_exits_0(
    tmp_path: Path,
) -> None:
    result = run_fake(tmp_path, "90 ms", True)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "OVER" not in result.stdout
