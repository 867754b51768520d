"""Listing throughput: authenticated `GET /executions?limit=50` against the local server with
10,000 and 100,000 executions stored. Prints requests/s and latency percentiles.

Targets (2-core machine): >= 300 requests/s with p99 <= 50 ms at 10,000 stored, and at
100,000 within 1.5x of that (the listing's cost must not grow with history)."""

from __future__ import annotations

import http.client
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from common import local_server, print_table, summarize

from orchestrator.adapters.clock import SystemClock
from orchestrator.adapters.local.database import Database
from orchestrator.adapters.local.stores import SqliteApiKeyStore, SqliteExecutionStore
from orchestrator.domain.models import Execution, ExecutionStatus, Role, utc_iso
from orchestrator.domain.users import UserService

CLIENTS = 4
REQUESTS_PER_CLIENT = 1000
WARMUP = 200


def seed(data_dir: Path, count: int) -> str:
    """`count` finished executions of one user (the worst case for their listing)."""
    database = Database(data_dir / "mycli.db")
    key = UserService(SqliteApiKeyStore(database), SystemClock()).issue_key(
        "bench@example.com", Role.USER
    )
    store = SqliteExecutionStore(database)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with database.immediate():
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


def load(url: str, api_key: str) -> tuple[float, list[float]]:
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

    client(WARMUP, record=False)
    threads = [
        threading.Thread(target=client, args=(REQUESTS_PER_CLIENT, True)) for _ in range(CLIENTS)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return len(latencies) / elapsed, latencies


def main() -> None:
    rows = []
    rates: dict[int, float] = {}
    for count in (10_000, 100_000):
        with tempfile.TemporaryDirectory() as home:
            data_dir = Path(home) / "data"
            seeding = time.perf_counter()
            api_key = seed(data_dir, count)
            seeded = time.perf_counter() - seeding
            with local_server(data_dir) as url:
                rate, latencies = load(url, api_key)
        rates[count] = rate
        stats = summarize(latencies)
        rows.append(
            [
                f"{count:,}",
                f"{seeded:.1f}",
                len(latencies),
                CLIENTS,
                f"{rate:.0f}",
                f"{stats['median']:.2f}",
                f"{stats['p99']:.2f}",
            ]
        )
    print_table(["stored", "seed s", "requests", "clients", "req/s", "p50 ms", "p99 ms"], rows)
    ratio = rates[10_000] / rates[100_000]
    print(
        f"\nthroughput 10k / 100k = {ratio:.2f} (target <= 1.5); "
        "targets: >= 300 req/s, p99 <= 50 ms"
    )


if __name__ == "__main__":
    main()
