"""Output throughput and line latency through `mycli exec` on the embedded platform.

50 MB of output (`yes | head -c 50000000`) through `mycli exec` into a file, beside the same
command run directly (MB/s); the stored log's size over the output's; the peak RSS of the
server and of the CLI; and the delay from a command printing a line (with its own timestamp)
to mycli printing it. Each figure is printed beside its baseline (before issue 20: JSON
pages with base64 chunks) and its target (issue 20, point 3): >= 100 MB/s through exec,
<= 1.1x stored, peak RSS no higher than the baseline's, median line latency <= 100 ms.

`--quick`: 1 MB once, 3 lines (about 3 s); targets are not enforced."""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import MYCLI, Figure, env_for, quick_mode, report

QUICK = "--quick" in sys.argv[1:]
OUTPUT_BYTES = 1_000_000 if QUICK else 50_000_000
COMMAND = f"yes | head -c {OUTPUT_BYTES}"
RUNS = 1 if QUICK else 3
LINES = 3 if QUICK else 20
LINE_COMMAND = f"for i in $(seq {LINES}); do date +%s.%N; sleep 0.3; done"
SIZE = f"{OUTPUT_BYTES // 1_000_000} MB"
MIB = 1024 * 1024
# Before issue 20 (same bench, same machine, quiet): direct 657 MB/s, through exec 33.4 MB/s,
# stored 1.0000x, server 62 MB, CLI 67 MB, line latency 2 ms.
BASELINE = {"direct": 657.0, "through": 33.4, "stored": 1.0, "server": 62, "cli": 67, "line": 2}
THROUGHPUT_TARGET = 100.0  # MB/s through `mycli exec` to a file


def timed_to_file(command: list[str], target: Path, env: dict[str, str]) -> tuple[float, int]:
    """Seconds to run `command` with stdout to `target`, and its peak RSS in bytes."""
    with target.open("wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.PIPE, env=env)
        assert process.stderr is not None
        errors = process.stderr.read()
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0 or target.stat().st_size != OUTPUT_BYTES:
        sys.exit(f"{command} failed ({target.stat().st_size} bytes): {errors.decode()}")
    target.with_suffix(".err").write_bytes(errors)
    return elapsed, usage.ru_maxrss * 1024


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def line_delays(env: dict[str, str]) -> list[float]:
    """Milliseconds from each line's own timestamp to mycli printing it."""
    process = subprocess.Popen(
        [MYCLI, "exec", "--", LINE_COMMAND], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert process.stdout is not None
    delays = []
    for line in process.stdout:
        delays.append((time.time() - float(line)) * 1000)
    process.wait()
    return delays


def mb_per_s(seconds: float) -> float:
    return OUTPUT_BYTES / seconds / 1e6


def main() -> None:
    quick = quick_mode(__doc__)
    with tempfile.TemporaryDirectory() as home_name:
        home = Path(home_name)
        data_dir = home / "data"
        env = env_for(home / "config", data_dir)
        subprocess.run(
            [MYCLI, "local", "up", "--background", "--port", "0"],
            env=env,
            check=True,
            capture_output=True,
        )
        server_pid = int(json.loads((data_dir / "server.json").read_text())["pid"])
        try:
            direct = [timed_to_file(["sh", "-c", COMMAND], home / "direct.out", env)[0]]
            direct += [timed_to_file(["sh", "-c", COMMAND], home / "direct.out", env)[0]]
            through: list[float] = []
            cli_rss = 0
            for _ in range(RUNS):
                seconds, rss = timed_to_file(
                    [MYCLI, "exec", "--", COMMAND], home / "mycli.out", env
                )
                through.append(seconds)
                cli_rss = max(cli_rss, rss)
            if (home / "mycli.out").read_bytes() != (home / "direct.out").read_bytes():
                sys.exit("mycli's output differs from the command's")
            started = (home / "mycli.err").read_text()
            match = re.search(r"execution ([0-9a-f]{32}) started", started)
            assert match, started
            stored = sum(
                (data_dir / "logs" / f"{match.group(1)}{suffix}").stat().st_size
                for suffix in (".out", ".idx")
            )
            delays = line_delays(env)
            server_rss = peak_rss(server_pid)
        finally:
            subprocess.run([MYCLI, "local", "down"], env=env, check=False, capture_output=True)

    direct_s, through_s = statistics.median(direct), statistics.median(through)
    latency = statistics.median(delays)
    through_mb = mb_per_s(through_s)
    figures = [
        Figure(
            f"{SIZE} direct (sh -c)",
            f"{mb_per_s(direct_s):.0f} MB/s",
            f"{BASELINE['direct']:.0f} MB/s",
        ),
        Figure(
            f"{SIZE} through mycli exec",
            f"{through_mb:.1f} MB/s",
            f"{BASELINE['through']} MB/s",
            f">= {THROUGHPUT_TARGET:.0f} MB/s",
            through_mb >= THROUGHPUT_TARGET,
        ),
        Figure(
            "stored log / output",
            f"{stored / OUTPUT_BYTES:.4f}x",
            f"{BASELINE['stored']:.4f}x",
            "<= 1.1x",
            stored <= 1.1 * OUTPUT_BYTES,
        ),
        Figure(
            "server peak RSS",
            f"{server_rss / MIB:.0f} MB",
            f"{BASELINE['server']} MB",
            f"<= {BASELINE['server']} MB",
            server_rss <= BASELINE["server"] * MIB,
        ),
        Figure(
            "CLI peak RSS",
            f"{cli_rss / MIB:.0f} MB",
            f"{BASELINE['cli']} MB",
            f"<= {BASELINE['cli']} MB",
            cli_rss <= BASELINE["cli"] * MIB,
        ),
        Figure(
            f"line latency (median of {len(delays)})",
            f"{latency:.0f} ms (max {max(delays):.0f})",
            f"{BASELINE['line']} ms",
            "<= 100 ms",
            latency <= 100,
        ),
    ]
    sys.exit(report(figures, quick=quick))


if __name__ == "__main__":
    main()
