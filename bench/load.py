"""The local server under load: with 10,000 executions stored, `GET /executions?limit=50`
from 4 clients (the baseline) and from 200 concurrent keep-alive clients, then 200 again
while 100 idle keep-alive connections and 20 slowloris senders are held open.

Prints requests/s, latency percentiles, errors, and the server's RSS and thread count.
Targets (2-core machine), with 200 clients: no errors, >= 600 requests/s, p99 <= 1 s,
RSS < 150 MB; the idle and slow connections do not lower those figures much.

`--quick`: 500 stored, 20 clients, 10 idle and 2 slow connections held 3 s; targets are not
enforced."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from common import Figure, local_server, quick_mode, report, summarize
from list_throughput import seed


@dataclass(frozen=True)
class Sizes:
    stored: int
    requests: int
    clients: int
    idle: int
    slowloris: int
    slowloris_seconds: int


FULL = Sizes(
    stored=10_000, requests=4000, clients=200, idle=100, slowloris=20, slowloris_seconds=120
)
QUICK = Sizes(stored=500, requests=200, clients=20, idle=10, slowloris=2, slowloris_seconds=3)
RATE_TARGET = 600.0
P99_TARGET_MS = 1000.0
RSS_TARGET_MB = 150.0


@dataclass
class Run:
    clients: int
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0


def request_bytes(host: str, api_key: str) -> bytes:
    return (
        f"GET /executions?limit=50 HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {api_key}\r\n"
        "Accept: application/json\r\n\r\n"
    ).encode()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next(
        int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")
    )
    return status, await reader.readexactly(length)


async def client(host: str, port: int, request: bytes, count: int, run: Run) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for _ in range(count):
            started = time.perf_counter()
            writer.write(request)
            try:
                status, body = await read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                run.errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            run.latencies.append((time.perf_counter() - started) * 1000)
            if status != 200 or body.count(b'"execution_id"') != 50:
                run.errors += 1
    finally:
        writer.close()


async def load(url: str, api_key: str, clients: int, requests: int) -> Run:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = request_bytes(f"{host}:{port}", api_key)
    run = Run(clients)
    started = time.perf_counter()
    await asyncio.gather(
        *(client(host, port, request, requests // clients, run) for _ in range(clients))
    )
    run.elapsed = time.perf_counter() - started
    return run


async def hostile_connections(
    url: str, sizes: Sizes
) -> tuple[list[asyncio.StreamWriter], asyncio.Task[int]]:
    """Idle connections (open, silent) and slowloris senders (a
    header byte now and then, never finishing); the task counts slowloris cut off."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    idle: list[asyncio.StreamWriter] = []
    for _ in range(sizes.idle):
        _, writer = await asyncio.open_connection(host, port)
        idle.append(writer)

    async def slowloris() -> bool:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        try:
            for n in range(sizes.slowloris_seconds):
                writer.write(f"X-Slow-{n}: y\r\n".encode())
                await writer.drain()
                if await _closed(reader, 1.0):
                    return True
        except ConnectionError:
            return True
        finally:
            writer.close()
        return False

    async def count_cut() -> int:
        return sum(await asyncio.gather(*(slowloris() for _ in range(sizes.slowloris))))

    return idle, asyncio.create_task(count_cut())


async def _closed(reader: asyncio.StreamReader, wait: float) -> bool:
    try:
        data = await asyncio.wait_for(reader.read(1), wait)
    except TimeoutError:
        return False
    return data == b""


def server_pid(data_dir: Path) -> int:
    return int(json.loads((data_dir / "server.json").read_text())["pid"])


def server_cpu_seconds(data_dir: Path) -> float:
    """User + system CPU time the server process has used."""
    fields = Path(f"/proc/{server_pid(data_dir)}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_figures(data_dir: Path) -> tuple[float, int]:
    """RSS in MB and thread count of the server process."""
    pid = server_pid(data_dir)
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(status["VmRSS"].split()[0]) / 1024, int(status["Threads"])


async def scenario(data_dir: Path, url: str, api_key: str, sizes: Sizes) -> list[Figure]:
    figures: list[Figure] = []
    crowd = sizes.clients

    async def measured(clients: int) -> tuple[Run, float]:
        cpu = server_cpu_seconds(data_dir)
        run = await load(url, api_key, clients, sizes.requests)
        return run, (server_cpu_seconds(data_dir) - cpu) * 1000 / max(1, len(run.latencies))

    def add(name: str, measurement: tuple[Run, float], baseline: Run | None) -> Run:
        run, cpu_ms = measurement
        rss, threads = server_figures(data_dir)
        stats = summarize(run.latencies)
        rate = len(run.latencies) / run.elapsed
        held = baseline is not None  # the targets hold for the crowd, not the 4-client baseline
        base = summarize(baseline.latencies) if baseline else None
        base_rate = (
            f"{len(baseline.latencies) / baseline.elapsed:.0f} (4 clients)" if baseline else "-"
        )
        figures.extend(
            [
                Figure(
                    f"{name}: errors",
                    str(run.errors),
                    "-",
                    "0" if held else "-",
                    run.errors == 0 if held else None,
                ),
                Figure(
                    f"{name}: req/s",
                    f"{rate:.0f} (server CPU {cpu_ms:.2f} ms/req)",
                    base_rate,
                    f">= {RATE_TARGET:.0f}" if held else "-",
                    rate >= RATE_TARGET if held else None,
                ),
                Figure(
                    f"{name}: p99",
                    f"{stats['p99']:.1f} ms (p50 {stats['median']:.1f})",
                    f"{base['p99']:.1f} ms (4 clients)" if base else "-",
                    f"<= {P99_TARGET_MS:.0f} ms" if held else "-",
                    stats["p99"] <= P99_TARGET_MS if held else None,
                ),
                Figure(
                    f"{name}: server RSS",
                    f"{rss:.0f} MB ({threads} threads)",
                    "-",
                    f"< {RSS_TARGET_MB:.0f} MB",
                    rss < RSS_TARGET_MB,
                ),
            ]
        )
        return run

    await load(url, api_key, crowd, sizes.requests // 4)  # warm-up: every worker thread started
    rss, threads = server_figures(data_dir)
    figures.append(Figure("after warm-up: server RSS", f"{rss:.0f} MB ({threads} threads)"))
    baseline = add("4 clients", await measured(4), None)
    add(f"{crowd} clients", await measured(crowd), baseline)
    idle, slow = await hostile_connections(url, sizes)
    add(f"{crowd} + {sizes.idle} idle + {sizes.slowloris} slow", await measured(crowd), baseline)
    cut = await slow
    for writer in idle:
        writer.close()
    figures.append(Figure("slowloris senders cut off", f"{cut}/{sizes.slowloris}"))
    return figures


def main() -> None:
    sizes = QUICK if quick_mode(__doc__) else FULL
    with tempfile.TemporaryDirectory() as home:
        data_dir = Path(home) / "data"
        api_key = seed(data_dir, sizes.stored)
        # INFO, as `mycli local up` runs: every request is logged to server.log.
        with local_server(data_dir, log_level="INFO") as url:
            figures = asyncio.run(scenario(data_dir, url, api_key, sizes))
    print(f"GET /executions?limit=50 with {sizes.stored:,} executions stored")
    print("(server CPU ms/req: on a busy machine req/s falls, CPU per request holds)\n")
    sys.exit(report(figures, quick=sizes is QUICK))


if __name__ == "__main__":
    main()
