"""The AWS output path and the start of a run on the Fargate twin, beside the embedded platform
(`mycli local up`).

Both are started here in temporary homes (the twin with `./scripts/aws-twin up --dir`, then
`down`), one after the other, and measured the same way: mycli's own API client follows the
logs route exactly as `mycli exec` does (`mycli.follow.LogFollower`), in this process.

- POST /executions to the first byte at the follower, for a command that prints one byte at
  once and then sleeps (median of N runs): on the twin, the agent's own overhead (manifest,
  FIFOs, go, first segment, the S3 logs route) without Fargate's provisioning or pulls.
- The delay from a write inside the command to the follower seeing it: the command prints its
  own `date +%s.%N` every 0.3 s; each line's arrival minus its timestamp (same host clock).
  Target (issue 18, point 7): p95 <= 1 s on the twin.
- Throughput: 20 MB of stdout, MB/s from the follower's first byte to its last.
- Warm runners (issue 22, point 4): POST to first byte of a run on an image whose warm pool
  has a task ready (median of 20; target <= 1 s), each run checked to have started warm;
  and the cold path with Fargate's start latency modelled (`aws-twin set
  --task-start-delay`, 30 s: the low end of Fargate's 30 to 60 s), beside the cold path
  without it (the first figure).

Each figure is the twin's, beside the embedded platform's as its baseline. The twin's pool
manager runs every second here (`--reaper-interval 1`, every schedule), so a used pool is
ready again before the next warm run.

`--quick`: a smoke run (no warm-up, 1 run, 3 lines, 1 MB, 2 warm runs, 1 cold run with a
2 s start delay; about 40 s in all, mostly the twin's `up` and `down`); targets are only
enforced in the full run, which exits 1 after printing what is over its target, last."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from common import MYCLI, Figure, env_for, percentile, quick_mode, report

from mycli.client import ApiClient
from mycli.commands.exec_request import request_body
from mycli.follow import LogFollower
from mycli.log_pages import Chunk

ROOT = Path(__file__).resolve().parents[1]
AWS_TWIN = str(ROOT / "scripts" / "aws-twin")
FIRST_BYTE_COMMAND = "printf x; sleep 1"
LINE_INTERVAL_SECONDS = 0.3
DELAY_TARGET_MS = 1000.0
WARM_TARGET_MS = 1000.0
WARM_IMAGE = "bench-warm"
WARM_POOL = 2
POOL_WAIT_SECONDS = 120.0


@dataclass(frozen=True)
class Sizes:
    first_byte_runs: int
    lines: int
    output_bytes: int
    throughput_runs: int
    warm_runs: int
    delayed_runs: int
    start_delay_seconds: float


FULL = Sizes(
    first_byte_runs=10,
    lines=20,
    output_bytes=20_000_000,
    throughput_runs=2,
    warm_runs=20,
    delayed_runs=3,
    start_delay_seconds=30.0,
)
QUICK = Sizes(
    first_byte_runs=1,
    lines=3,
    output_bytes=1_000_000,
    throughput_runs=1,
    warm_runs=2,
    delayed_runs=1,
    start_delay_seconds=2.0,
)


@dataclass
class Arrival:
    wall: float  # time.time(), comparable with the command's `date`
    perf: float  # time.perf_counter()
    data: bytes


@dataclass
class Run:
    posted_at: float  # perf_counter just before the POST
    arrivals: list[Arrival] = field(default_factory=list)
    execution_id: str = ""

    @property
    def output(self) -> bytes:
        return b"".join(arrival.data for arrival in self.arrivals)


@dataclass
class Figures:
    first_byte_ms: list[float]
    delays_ms: list[float]
    mb_per_s: list[float]


@dataclass
class StartFigures:
    warm_ms: list[float]
    delayed_ms: list[float]


def run_and_follow(client: ApiClient, command: str, image: str | None = None) -> Run:
    """POST the command as `mycli exec [--image IMAGE] -- COMMAND` does, follow its logs to
    the end."""
    body = request_body((command,), None, (), None, None) | ({"image": image} if image else {})
    run = Run(posted_at=time.perf_counter())
    execution = client.post("/executions", body, idempotency_key=uuid.uuid4().hex)
    run.execution_id = execution["execution_id"]

    def on_chunk(chunk: Chunk) -> None:
        if chunk.stream == "stderr":
            sys.exit(f"{command!r} wrote to stderr: {bytes(chunk.data)!r}")
        data = bytes(chunk.data)
        if data:
            run.arrivals.append(Arrival(time.time(), time.perf_counter(), data))

    status = LogFollower(client, execution["execution_id"], on_chunk).run()
    if status != "SUCCEEDED":
        sys.exit(f"{command!r} ended {status} (execution {execution['execution_id']})")
    return run


def first_byte_ms(
    client: ApiClient,
    runs: int,
    image: str | None = None,
    before: Callable[[], None] = lambda: None,
) -> list[float]:
    samples = []
    for _ in range(runs):
        before()
        run = run_and_follow(client, FIRST_BYTE_COMMAND, image)
        if run.output != b"x":
            sys.exit(f"expected b'x', the follower got {run.output!r}")
        samples.append((run.arrivals[0].perf - run.posted_at) * 1000)
        if image is not None and (start := started(client, run)) != "warm":
            sys.exit(f"a run on {image} with its pool ready started {start}, not warm")
    return samples


def started(client: ApiClient, run: Run) -> str:
    return str(client.get(f"/executions/{run.execution_id}").get("start"))


def pool_ready(client: ApiClient, image: str, ready: int) -> None:
    """Wait until `image`'s pool has at least `ready` tasks ready."""
    deadline = time.monotonic() + POOL_WAIT_SECONDS
    while True:
        [found] = [item for item in client.get("/images")["items"] if item["name"] == image]
        if found["warm"]["ready"] >= ready:
            return
        if time.monotonic() > deadline:
            sys.exit(f"the pool of {image} is not ready after {POOL_WAIT_SECONDS:.0f} s: {found}")
        time.sleep(0.1)


def start_paths(handle: TwinHandle, sizes: Sizes) -> StartFigures:
    """Warm starts (a pool of WARM_POOL, one task ready before each run), then cold starts
    with Fargate's start latency modelled."""
    client = handle.client
    body = {"name": WARM_IMAGE, "uri": "alpine:3.20", "description": "", "warm": WARM_POOL}
    client.post("/images", body)
    pool_ready(client, WARM_IMAGE, WARM_POOL)
    warm = first_byte_ms(
        client, sizes.warm_runs, WARM_IMAGE, before=lambda: pool_ready(client, WARM_IMAGE, 1)
    )
    handle.set_start_delay(sizes.start_delay_seconds)
    try:
        delayed = first_byte_ms(client, sizes.delayed_runs)
    finally:
        handle.set_start_delay(0)
    return StartFigures(warm_ms=warm, delayed_ms=delayed)


def line_delays_ms(client: ApiClient, lines: int) -> list[float]:
    """Each line's arrival (the chunk that ended it) minus the timestamp it holds."""
    command = f"for i in $(seq {lines}); do date +%s.%N; sleep {LINE_INTERVAL_SECONDS}; done"
    delays: list[float] = []
    pending = b""
    for arrival in run_and_follow(client, command).arrivals:
        pending += arrival.data
        *complete, pending = pending.split(b"\n")
        delays += [(arrival.wall - float(line)) * 1000 for line in complete]
    if len(delays) != lines or pending:
        sys.exit(f"expected {lines} lines, got {len(delays)} (and {pending!r} unfinished)")
    return delays


def throughput_mb_per_s(client: ApiClient, size: int, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        run = run_and_follow(client, f"yes | head -c {size}")
        output = run.output
        if len(output) != size or output != (b"y\n" * (size // 2 + 1))[:size]:
            sys.exit(f"the follower got {len(output)} bytes, not the {size} written")
        seconds = run.arrivals[-1].perf - run.arrivals[0].perf
        # All of it in one page: first and last byte arrived together; time it from the POST.
        seconds = seconds if len(run.arrivals) > 1 else run.arrivals[0].perf - run.posted_at
        samples.append(size / seconds / 1e6)
    return samples


def measure(client: ApiClient, sizes: Sizes) -> Figures:
    if sizes is not QUICK:
        run_and_follow(client, "true")  # warm the server's (or the functions') first requests
    return Figures(
        first_byte_ms=first_byte_ms(client, sizes.first_byte_runs),
        delays_ms=line_delays_ms(client, sizes.lines),
        mb_per_s=throughput_mb_per_s(client, sizes.output_bytes, sizes.throughput_runs),
    )


def profile_client(config_home: Path, profile: str) -> ApiClient:
    config = tomllib.loads((config_home / "mycli" / "config.toml").read_text())
    settings = config["profiles"][profile]
    return ApiClient(settings["api_url"], settings["api_key"])


def checked(command: list[str], env: dict[str, str], timeout: float) -> None:
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({result.returncode}): {result.stderr}")


@contextmanager
def embedded(home: Path) -> Iterator[ApiClient]:
    env = env_for(home / "config", home / "data")
    checked([MYCLI, "local", "up", "--background", "--port", "0"], env, timeout=60)
    try:
        yield profile_client(home / "config", "local")
    finally:
        subprocess.run([MYCLI, "local", "down"], env=env, capture_output=True, check=False)


@dataclass
class TwinHandle:
    client: ApiClient
    run_dir: str
    env: dict[str, str]

    def set_start_delay(self, seconds: float) -> None:
        command = [AWS_TWIN, "set", "--dir", self.run_dir, "--task-start-delay", f"{seconds:g}"]
        checked(command, self.env, timeout=60)


@contextmanager
def twin(home: Path) -> Iterator[TwinHandle]:
    env = {**os.environ, "XDG_CONFIG_HOME": str(home / "config")}
    run_dir = str(home / "twin-run")
    try:
        checked([AWS_TWIN, "up", "--dir", run_dir, "--reaper-interval", "1"], env, timeout=300)
        yield TwinHandle(profile_client(home / "config", "twin"), run_dir, env)
    finally:
        subprocess.run(
            [AWS_TWIN, "down", "--dir", run_dir], env=env, capture_output=True, check=False
        )


def on_embedded(sizes: Sizes) -> Figures:
    with tempfile.TemporaryDirectory() as home, embedded(Path(home)) as client:
        try:
            return measure(client, sizes)
        finally:
            client.close()


def on_twin(sizes: Sizes) -> tuple[Figures, StartFigures]:
    with tempfile.TemporaryDirectory() as home, twin(Path(home)) as handle:
        try:
            return measure(handle.client, sizes), start_paths(handle, sizes)
        finally:
            handle.client.close()


def spread(samples: list[float]) -> str:
    return (
        f"{statistics.median(samples):.0f} / {percentile(samples, 0.95):.0f} / {max(samples):.0f}"
    )


def main() -> None:
    sizes = QUICK if quick_mode(__doc__) else FULL
    base = on_embedded(sizes)
    aws, starts = on_twin(sizes)

    delay_p95 = percentile(aws.delays_ms, 0.95)
    warm_median = statistics.median(starts.warm_ms)
    mb = sizes.output_bytes / 1e6
    embedded_first_byte = f"{spread(base.first_byte_ms)} (embedded)"
    figures = [
        Figure(
            f"twin warm (pool ready): POST to first byte, ms (median / p95 / max of "
            f"{sizes.warm_runs})",
            spread(starts.warm_ms),
            embedded_first_byte,
            f"median <= {WARM_TARGET_MS:.0f}",
            warm_median <= WARM_TARGET_MS,
        ),
        Figure(
            f"twin cold, no start delay: POST to first byte, ms (median / p95 / max of "
            f"{sizes.first_byte_runs})",
            spread(aws.first_byte_ms),
            embedded_first_byte,
        ),
        Figure(
            f"twin cold, start delay {sizes.start_delay_seconds:g} s: POST to first byte, ms "
            f"(median / p95 / max of {sizes.delayed_runs})",
            spread(starts.delayed_ms),
            embedded_first_byte,
        ),
        Figure(
            f"twin: write to follower, ms (median / p95 / max of {sizes.lines} lines)",
            spread(aws.delays_ms),
            f"{spread(base.delays_ms)} (embedded)",
            f"p95 <= {DELAY_TARGET_MS:.0f}",
            delay_p95 <= DELAY_TARGET_MS,
        ),
        Figure(
            f"twin: {mb:g} MB stdout, first to last byte (median of {sizes.throughput_runs})",
            f"{statistics.median(aws.mb_per_s):.1f} MB/s",
            f"{statistics.median(base.mb_per_s):.1f} MB/s (embedded)",
        ),
    ]
    sys.exit(report(figures, quick=sizes is QUICK))


if __name__ == "__main__":
    main()
