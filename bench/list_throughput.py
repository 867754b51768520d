"""Listing throughput: authenticated `GET /executions?limit=50` against the local server with
10,000 and 100,000 executions stored. Prints requests/s and latency percentiles.

Targets (2-core machine): >= 300 requests/s with p99 <= 50 ms at 10,000 stored, and at
100,000 within 1.5x of that (the listing's cost must not grow with history).

`--quick`: 200 and 2,000 stored, 50 requests per client; targets are not enforced."""

from __future__ import annotations

import http.client
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from common import Figure, local_server, quick_mode, report, summarize

from orchestrator.adapters.clock import SystemClock
from orchestrator.adapters.local.database import Database
from orchestrator.adapters.local.stores import SqliteApiKeyStore, SqliteExecutionStore
from orchestrator.domain.models import Execution, ExecutionStatus, Role, utc_iso
from orchestrator.domain.users import UserService

CLIENTS = 4
RATE_TARGET = 300.0
P99_TARGET_MS = 50.0
RATIO_TARGET = 1.5


def seed(data_dir: Path, count: int) -> str:
    """`count` finished executions of one user (the worst case for their listing)."""
    database = Database(data_dir / "mycli.db")
    key = UserService(SqliteApiKeyStore(database), SystemClock()).issue_key(
        "bench@example.com", Role.USER
    )
    store = SqliteExecutionStore(database)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    # Each create is its own transaction (as the server makes them); seed data needs no fsync.
    database.connection().execute("PRAGMA synchronous = OFF")
    for n in range(count):
        moment = utc_iso(start + timedelta(seconds=n))
        store.create(
            Execution(
                execution_id=f"{n:032x}",
                user_email="bench@example.com",
                command=f"terraform apply -target=module.n{n}",
                status=ExecutionStatus.SUCCEEDED if n % 7 else ExecutionStatus.FAILED,
                started_at=moment,
                finished_at=moment,
                updated_at=moment,
                timeout_seconds=1800,
                exit_code=0 if n % 7 else 1,
                lock_name="infra-prod" if n % 3 == 0 else None,
                env_names=("AWS_PROFILE",),
                task_ref=str(1000 + n),
                log_stream_name=f"{n:032x}.log",
            )
        )
    return key.api_key


def load(url: str, api_key: str, requests: int) -> tuple[float, list[float]]:
    parts = urlsplit(url)
    headers = {"X-API-Key": api_key, "Accept": "application/json"}
    latencies: list[float] = []
    lock = threading.Lock()

    def client(requests: int, record: bool) -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        mine = []
        for _ in range(requests):
            started = time.perf_counter()
            connection.request("GET", "/executions?limit=50", headers=headers)
            response = connection.getresponse()
            body = response.read()
            mine.append((time.perf_counter() - started) * 1000)
            assert response.status == 200 and body.count(b'"execution_id"') == 50
        connection.close()
        if record:
            with lock:
                latencies.extend(mine)

    client(requests // 5, record=False)
    threads = [threading.Thread(target=client, args=(requests, True)) for _ in range(CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return len(latencies) / elapsed, latencies


def main() -> None:
    quick = quick_mode(__doc__)
    small, large = (200, 2000) if quick else (10_000, 100_000)
    requests = 50 if quick else 1000
    figures = []
    rates: dict[int, float] = {}
    for count in (small, large):
        with tempfile.TemporaryDirectory() as home:
            data_dir = Path(home) / "data"
            seeding = time.perf_counter()
            api_key = seed(data_dir, count)
            seeded = time.perf_counter() - seeding
            with local_server(data_dir) as url:
                rate, latencies = load(url, api_key, requests)
        rates[count] = rate
        p99 = summarize(latencies)["p99"]
        done = f"{count:,} stored, {len(latencies)} requests from {CLIENTS} clients"
        figures += [
            Figure(f"seed {count:,}", f"{seeded:.1f} s"),
            Figure(
                f"req/s ({done})", f"{rate:.0f}", "-", f">= {RATE_TARGET:.0f}", rate >= RATE_TARGET
            ),
            Figure(
                f"p99 ({done})",
                f"{p99:.2f} ms (p50 {summarize(latencies)['median']:.2f})",
                "-",
                f"<= {P99_TARGET_MS:.0f} ms",
                p99 <= P99_TARGET_MS,
            ),
        ]
    ratio = rates[small] / rates[large]
    figures.append(
        Figure(
            f"req/s at {small:,} / at {large:,}",
            f"{ratio:.2f}",
            "1.00 (cost independent of history)",
            f"<= {RATIO_TARGET}",
            ratio <= RATIO_TARGET,
        )
    )
    sys.exit(report(figures, quick=quick))


if __name__ == "__main__":
    main()
