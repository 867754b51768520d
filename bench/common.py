"""Shared by the benchmarks: the mode (`--quick`), timing statistics, the one table every bench
prints (each figure beside its baseline and target, overages last), a local server process."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

MYCLI = str(Path(sys.executable).parent / "mycli")


def percentile(samples: Sequence[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summarize(samples: Sequence[float]) -> dict[str, float]:
    return {
        "median": statistics.median(samples),
        "p90": percentile(samples, 0.90),
        "p99": percentile(samples, 0.99),
    }


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for index, row in enumerate(cells):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            print("  ".join("-" * width for width in widths))


@dataclass(frozen=True)
class Figure:
    """One measured figure, as printed: `met` is None when the figure has no target."""

    measure: str
    value: str
    baseline: str = "-"
    target: str = "-"
    met: bool | None = None


def quick_mode(description: str | None) -> bool:
    """Parse the command line every bench takes: `--quick` (a smoke run, seconds)."""
    parser = argparse.ArgumentParser(description=(description or "").split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: small sizes, one or two repetitions; figures are printed, "
        "targets are not enforced",
    )
    return bool(parser.parse_args().quick)


def report(figures: Sequence[Figure], *, quick: bool) -> int:
    """Print the table (measure, value, baseline, target, mark), then every figure over its
    target, last, as `OVER: ...`. Returns the exit status: 1 when a target is missed in a full
    run; 0 otherwise (a quick run reports its figures but holds the machine to no target)."""
    over = [figure for figure in figures if figure.met is False]
    missed = "not enforced (--quick)" if quick else "OVER"
    rows = [
        [
            f.measure,
            f.value,
            f.baseline,
            f.target,
            "" if f.met is None else "ok" if f.met else missed,
        ]
        for f in figures
    ]
    print_table(["measure", "value", "baseline", "target", ""], rows)
    if over and not quick:
        print()
        for figure in over:
            print(f"OVER: {figure.measure}: {figure.value} (target {figure.target})")
        return 1
    return 0


@contextmanager
def local_server(data_dir: Path, log_level: str = "WARNING") -> Iterator[str]:
    """`python -m orchestrator.local` on a free port; yields its URL."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orchestrator.local",
            "--data-dir",
            str(data_dir),
            "--port",
            "0",
            "--log-level",
            log_level,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    state_file = data_dir / "server.json"
    deadline = time.monotonic() + 30
    try:
        while True:
            if state_file.exists():
                state = json.loads(state_file.read_text())
                if state.get("pid") == process.pid:
                    break
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the local server did not start")
            time.sleep(0.05)
        yield str(state["url"])
    finally:
        process.terminate()
        process.wait(timeout=30)


def env_for(config_home: Path, data_dir: Path) -> dict[str, str]:
    return {**os.environ, "XDG_CONFIG_HOME": str(config_home), "MYCLI_DATA_DIR": str(data_dir)}
