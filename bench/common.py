"""Shared by the benchmarks: timing statistics, a table printer, a local server process."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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
