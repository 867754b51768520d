"""Every script under bench/ in --quick mode, as a real subprocess, so no benchmark can rot: it
must run, print the one table format (measure, value, baseline, target) and exit 0. Quick mode
reports its figures but holds the machine to no target."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHES = sorted(path.name for path in (ROOT / "bench").glob("*.py") if path.name != "common.py")
HEADER = ["measure", "value", "baseline", "target"]
SPREAD = r"\d+ / \d+ / \d+"
# What a bench's own rows must show, beyond the shared format.
ROWS = {
    "cold_start.py": [r"create_execution \(202\)  +\d+ ms", r"Lambda asset.*KiB  +-  +< 1024 KiB"],
    "cli_latency.py": [r"mycli --help .*<= [\d.]+ ms \(<= 2x python -c pass\)"],
    "list_throughput.py": [r"req/s at 200 / at 2,000  +[\d.]+"],
    "load.py": [r"20 clients: errors  +0 "],
    "output_throughput.py": [r"1 MB through mycli exec  +[\d.]+ MB/s  +33.4 MB/s  +>= 100 MB/s"],
    "twin_output.py": [
        rf"twin warm \(pool ready\): POST to first byte.* of 2\)  +{SPREAD}  +{SPREAD} "
        r"\(embedded\)  +median <= 1000",
        rf"twin cold, no start delay: POST to first byte.*  {SPREAD}  +{SPREAD} \(embedded\)",
        rf"twin cold, start delay 2 s: POST to first byte.*  {SPREAD}  +{SPREAD} \(embedded\)",
        rf"twin: write to follower.*  {SPREAD}  +{SPREAD} \(embedded\)  +p95 <= 1000",
        r"twin: 1 MB stdout.*  [\d.]+ MB/s  +[\d.]+ MB/s \(embedded\)",
    ],
}


def table(stdout: str) -> list[str]:
    """The table's lines, from its header on."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if re.split(r"  +", line)[:4] == HEADER)
    return lines[start:]


def test_every_bench_has_its_rows_checked() -> None:
    assert sorted(ROWS) == BENCHES


@pytest.mark.parametrize("bench", BENCHES)
def test_given_quick_mode_when_a_bench_runs_then_it_prints_its_table_and_exits_0(
    bench: str,
) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / bench), "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    _header, rule, *rows = table(result.stdout)
    assert set(rule) <= {"-", " "}
    assert rows and "OVER:" not in result.stdout, result.stdout
    for pattern in ROWS[bench]:
        assert any(re.search(pattern, row) for row in rows), (pattern, result.stdout)
