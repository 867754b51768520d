"""bench/twin_output.py in --quick mode, so the benchmark cannot rot: it starts the embedded
platform and the Fargate twin, runs its three measures on each and prints its table."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "twin_output.py"
SPREAD = r"\d+ / \d+ / \d+"


def test_given_quick_mode_when_the_twin_output_bench_runs_then_it_prints_every_figure() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    header, rule, *rows = result.stdout.splitlines()
    assert re.split(r"  +", header)[:3] == ["measure", "embedded (baseline)", "twin (AWS path)"]
    assert set(rule) <= {"-", " "}
    assert len(rows) == 3, result.stdout
    first_byte, delay, throughput = rows
    assert re.match(rf"POST to first byte.*  {SPREAD}  +{SPREAD}  ", first_byte), first_byte
    assert re.match(rf"write to follower.*  {SPREAD}  +{SPREAD}  +p95 <= 1000", delay), delay
    assert re.match(r"1 MB stdout.*  [\d.]+ MB/s  +[\d.]+ MB/s", throughput), throughput
