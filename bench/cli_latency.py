"""CLI start-up: `mycli --help` beside `python -c pass` (the same interpreter), and
`mycli exec -- true` end to end against a running local server, beside `sh -c true`.
Prints each median beside its baseline and target, and OVER when a target is missed.

Targets (issue 20, medians): `mycli --help` <= 2x `python -c pass`; `mycli exec -- true`
<= 100 ms on the embedded platform. The commands are timed in turns (one run of each, then
again), so a busy machine slows all of them alike.

`--quick`: two runs of each, one warm-up; targets are not enforced."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import MYCLI, Figure, env_for, quick_mode, report, summarize

RUNS = 30
PYTHON_PASS = "python -c pass"
SH_TRUE = "sh -c true"
HELP = "mycli --help"
EXEC = "mycli exec -- true"
EXEC_TARGET_MS = 100.0
HELP_TARGET_TIMES_PYTHON = 2.0


def timed_once(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, check=False)
    elapsed = (time.perf_counter() - started) * 1000
    if result.returncode != 0:
        sys.exit(f"{command} failed: {result.stderr.decode()}")
    return elapsed


def main() -> None:
    quick = quick_mode(__doc__)
    runs, warm_ups = (2, 1) if quick else (RUNS, 3)
    commands = {
        PYTHON_PASS: [sys.executable, "-c", "pass"],
        SH_TRUE: ["sh", "-c", "true"],
        HELP: [MYCLI, "--help"],
        EXEC: [MYCLI, "exec", "--", "true"],
    }
    samples: dict[str, list[float]] = {label: [] for label in commands}
    with tempfile.TemporaryDirectory() as home:
        env = env_for(Path(home) / "config", Path(home) / "data")
        subprocess.run(
            [MYCLI, "local", "up", "--background", "--port", "0"],
            env=env,
            check=True,
            capture_output=True,
        )
        try:
            for _ in range(warm_ups):  # warm the server's first requests and the file cache
                timed_once(commands[EXEC], env)
            for _ in range(runs):
                for label, command in commands.items():
                    samples[label].append(timed_once(command, env))
        finally:
            subprocess.run([MYCLI, "local", "down"], env=env, check=False, capture_output=True)
    stats = {label: summarize(values) for label, values in samples.items()}
    python_ms = stats[PYTHON_PASS]["median"]
    targets = {
        HELP: (PYTHON_PASS, HELP_TARGET_TIMES_PYTHON * python_ms, f"<= 2x {PYTHON_PASS}"),
        EXEC: (SH_TRUE, EXEC_TARGET_MS, "issue 20"),
    }
    figures = []
    for label in commands:
        median, p90 = stats[label]["median"], stats[label]["p90"]
        baseline, target, rule = targets.get(label, ("-", None, "-"))
        base = "-" if baseline == "-" else f"{stats[baseline]['median']:.1f} ms ({baseline})"
        figures.append(
            Figure(
                f"{label} (median of {runs})",
                f"{median:.1f} ms (p90 {p90:.1f})",
                base,
                "-" if target is None else f"<= {target:.1f} ms ({rule})",
                None if target is None else median <= target,
            )
        )
    sys.exit(report(figures, quick=quick))


if __name__ == "__main__":
    main()
