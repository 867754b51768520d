"""CLI latency: `mycli --help`, and `mycli exec -- true` end to end against a running local
server, beside `sh -c true` as the baseline. Prints a table of milliseconds.

Targets (2-core machine, medians): --help <= 150 ms; exec -- true <= 400 ms."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import MYCLI, env_for, print_table, summarize

RUNS = 30


def timed(command: list[str], env: dict[str, str]) -> list[float]:
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        result = subprocess.run(command, env=env, capture_output=True, check=False)
        samples.append((time.perf_counter() - started) * 1000)
        if result.returncode != 0:
            sys.exit(f"{command} failed: {result.stderr.decode()}")
    return samples


def main() -> None:
    with tempfile.TemporaryDirectory() as home:
        env = env_for(Path(home) / "config", Path(home) / "data")
        subprocess.run(
            [MYCLI, "local", "up", "--background", "--port", "0"],
            env=env,
            check=True,
            capture_output=True,
        )
        try:
            timed([MYCLI, "exec", "--", "true"], env)[:3]  # warm the server's first requests
            rows = []
            for label, command, target in [
                ("sh -c true (baseline)", ["sh", "-c", "true"], None),
                ("mycli --help", [MYCLI, "--help"], 150),
                ("mycli exec -- true", [MYCLI, "exec", "--", "true"], 400),
            ]:
                stats = summarize(timed(command, env))
                verdict = "" if target is None else ("ok" if stats["median"] <= target else "OVER")
                rows.append(
                    [
                        label,
                        RUNS,
                        f"{stats['median']:.1f}",
                        f"{stats['p90']:.1f}",
                        "-" if target is None else f"<= {target}",
                        verdict,
                    ]
                )
        finally:
            subprocess.run([MYCLI, "local", "down"], env=env, check=False, capture_output=True)
    print_table(["command", "runs", "median ms", "p90 ms", "target (median)", ""], rows)


if __name__ == "__main__":
    main()
