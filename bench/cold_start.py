"""Lambda cold-start proxy: for every function, a fresh interpreter imports its handler module
and serves its first request against moto (ThreadedMotoServer on 127.0.0.1). "cold start" is
from spawning the interpreter to the handler's response (medians of 5), beside the baseline
of a fresh interpreter that does nothing (`python -c pass`, spawn to exit). Each row says how
the time splits (import, first request), the CPU time the interpreter used up to its response
(user + system: on a busy machine the wall time grows, the CPU time much less) and which AWS
adapters the function loaded; the last rows are a function with no bytecode at all and the
asset's size.
A function answering 5xx stops the bench.

Bytecode as on Lambda: the dependencies (Powertools, pydantic, botocore) load from bytecode,
as pip installs them into the runtime and the layer, while the asset's own modules are
compiled on every cold start (the asset ships no `__pycache__`, as AWS advises, and
/var/task is read-only). The children keep their bytecode in a fresh PYTHONPYCACHEPREFIX: one
warm-up call per function writes it, then the asset's entries are deleted and the measured
calls write nothing. (Without this, a venv installed without bytecode under
PYTHONDONTWRITEBYTECODE=1 compiled ~170 modules of Powertools and pydantic in every child.)

Target (2-core machine): <= 350 ms median for every function; no function loads an adapter
that only another function needs; the asset under 1 MB.

`--quick`: one run of two functions (create, the ECS task events), a few
seconds; targets are not enforced."""

from __future__ import annotations

import fnmatch
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

from common import Figure, quick_mode, report  # noqa: E402

from events import ecs_task_event, rest_event  # noqa: E402

RUNS = 5
QUICK_FUNCTIONS = ("create_execution", "task_events")
TARGET_MS = 350.0
ASSET_TARGET_KIB = 1024
BASE_ADAPTERS = ("clients", "composition", "settings", "metrics")
CHILD = r"""
import json, sys, time
spawned = float(sys.argv[3])
started = time.perf_counter()
import importlib
module = importlib.import_module("orchestrator.handlers." + sys.argv[1])
imported = time.perf_counter()
from dataclasses import dataclass

@dataclass
class Context:
    aws_request_id: str = "bench"
    function_name: str = "bench"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:bench"

result = module.handler(json.loads(sys.argv[2]), Context())
served = time.perf_counter()
prefix = "orchestrator.adapters.aws."
loaded = sorted(m.removeprefix(prefix) for m in sys.modules if m.startswith(prefix))
print(json.dumps({
    "cold_ms": (time.time() - spawned) * 1000,
    "cpu_ms": time.process_time() * 1000,
    "import_ms": (imported - started) * 1000,
    "request_ms": (served - imported) * 1000,
    "status": result.get("statusCode", 200),
    "adapters": loaded,
    "boto3": "boto3" in sys.modules,
}))
"""


def start_moto() -> Any:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def main() -> None:
    quick = quick_mode(__doc__)
    runs = 1 if quick else RUNS
    os.environ.update(
        AWS_DEFAULT_REGION="eu-west-1",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_METRICS_NAMESPACE="mycli",
    )
    server, endpoint = start_moto()
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    from moto_aws import create_executor, create_tables, environment, platform_settings
    from orchestrator.adapters.aws.clients import AwsClients
    from orchestrator.adapters.aws.dynamodb import DynamoApiKeyStore, DynamoExecutionStore
    from orchestrator.adapters.clock import SystemClock
    from orchestrator.domain.models import Role
    from orchestrator.domain.users import UserService
    from orchestrator.handlers.catalog import ROUTES

    create_tables()
    settings = platform_settings(create_executor())
    clients = AwsClients()
    key = (
        UserService(DynamoApiKeyStore(clients.dynamodb, "APIKeys"), SystemClock())
        .issue_key("admin@example.com", Role.ADMIN)
        .api_key
    )
    env = {**os.environ, **environment(settings), "PYTHONPATH": str(ROOT / "lambda_src")}
    # What the Lambda runtime sets, so Powertools and the X-Ray SDK behave as deployed, with
    # tracing on (segments go to the X-Ray daemon's address on 127.0.0.1, over UDP).
    env.pop("POWERTOOLS_TRACE_DISABLED", None)
    env.update(
        LAMBDA_TASK_ROOT=str(ROOT / "lambda_src"),
        AWS_LAMBDA_FUNCTION_NAME="mycli-bench",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="512",
        AWS_EXECUTION_ENV="AWS_Lambda_python3.12",
        _X_AMZN_TRACE_ID="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        AWS_XRAY_DAEMON_ADDRESS="127.0.0.1:2000",
    )

    pycache = Path(tempfile.mkdtemp(prefix="mycli-bench-pycache-"))
    own_bytecode = pycache / str(ROOT / "lambda_src").lstrip(os.sep)
    measured = {**env, "PYTHONPYCACHEPREFIX": str(pycache), "PYTHONDONTWRITEBYTECODE": "1"}
    warm_up = {k: v for k, v in measured.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def invoke(module: str, event: dict[str, Any], child_env: dict[str, str]) -> dict[str, Any]:
        if module == "create_user":  # a new user every call, so each one creates (201)
            event = {**event, "body": json.dumps({"email": f"u{time.monotonic_ns()}@x.example"})}
        child = subprocess.run(
            [sys.executable, "-c", CHILD, module, json.dumps(event), repr(time.time())],
            env=child_env,
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode != 0:
            sys.exit(f"{module} failed:\n{child.stderr}")
        result: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
        if result["status"] >= 500:
            sys.exit(f"{module} answered {result['status']}:\n{child.stderr}")
        return result

    created = invoke(
        "create_execution",
        rest_event("POST", "/executions", key=key, body={"command": "true", "lock": "bench"}),
        warm_up,
    )
    executions = DynamoExecutionStore(clients.dynamodb, "Executions")
    listed = executions.list_page(user_email=None, status=None, limit=1, cursor=None).items
    if created["status"] != 202 or not listed:
        sys.exit(f"create_execution answered {created['status']}, listed {listed}")
    [execution] = listed
    sample = {
        "execution_id": execution.execution_id,
        "lock_name": "bench",
        "email": "nobody@example.com",
        "name": "bench",
        "api_key_hash": "0" * 64,
    }
    events: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        path = route.path.format(**sample)
        body = (
            {"command": "true"}
            if route.module == "create_execution"
            else (
                {"email": f"u{time.monotonic_ns()}@example.com"}
                if route.module == "create_user"
                else None
            )
        )
        events[route.module] = rest_event(route.method, path, key=key, body=body)
    events["task_events"] = ecs_task_event(
        task_arn=execution.task_ref or "",
        cluster_arn=settings.cluster,
        started_by=execution.execution_id,
        last_status="RUNNING",
    )
    events["reaper"] = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}

    if quick:
        events = {module: events[module] for module in QUICK_FUNCTIONS}
    baseline = statistics.median(spawn_to_exit_ms() for _ in range(runs))
    figures = [Figure("python -c pass (spawn to exit)", f"{baseline:.0f} ms")]
    print("AWS adapters each function loaded (beyond clients, composition, settings, metrics):")
    for module, event in events.items():
        invoke(module, event, warm_up)  # writes the dependencies' bytecode
        shutil.rmtree(own_bytecode, ignore_errors=True)  # the asset's is compiled every time
        figures.append(
            cold_start_figure(
                module, [invoke(module, event, measured) for _ in range(runs)], baseline
            )
        )
    no_bytecode = {**measured, "PYTHONPYCACHEPREFIX": str(pycache / "none")}
    first = next(iter(events))
    compiled = invoke(first, events[first], no_bytecode)
    figures.append(
        Figure(
            f"{first}, nothing precompiled (every module compiled)",
            f"{compiled['cold_ms']:.0f} ms (CPU {compiled['cpu_ms']:.0f})",
            f"{baseline:.0f} ms",
        )
    )
    server.stop()
    shutil.rmtree(pycache, ignore_errors=True)
    print()
    size = asset_kib()
    figures.append(
        Figure(
            "Lambda asset (lambda_src without local-only code)",
            f"{size:.0f} KiB",
            target=f"< {ASSET_TARGET_KIB} KiB",
            met=size < ASSET_TARGET_KIB,
        )
    )
    sys.exit(report(figures, quick=quick))


def spawn_to_exit_ms() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return (time.perf_counter() - started) * 1000


def cold_start_figure(module: str, runs: list[dict[str, Any]], baseline_ms: float) -> Figure:
    """One function's median cold start, how it splits, and the adapters it loaded."""
    cold = statistics.median(r["cold_ms"] for r in runs)
    imported = statistics.median(r["import_ms"] for r in runs)
    request = statistics.median(r["request_ms"] for r in runs)
    cpu = statistics.median(r["cpu_ms"] for r in runs)
    adapters = ",".join(a for a in runs[0]["adapters"] if a not in BASE_ADAPTERS) or "-"
    print(f"  {module}: {adapters}")
    return Figure(
        f"{module} ({runs[0]['status']})",
        f"{cold:.0f} ms (import {imported:.0f}, 1st request {request:.0f}; CPU {cpu:.0f})",
        f"{baseline_ms:.0f} ms",
        f"<= {TARGET_MS:.0f} ms",
        cold <= TARGET_MS,
    )


def asset_kib() -> float:
    from orchestrator.handlers.catalog import ASSET_EXCLUDES

    asset = ROOT / "lambda_src"
    size = sum(
        path.stat().st_size
        for path in asset.rglob("*")
        if path.is_file()
        and not any(
            fnmatch.fnmatch(str(path.relative_to(asset)), pattern)
            or str(path.relative_to(asset)).startswith(pattern + "/")
            for pattern in ASSET_EXCLUDES
        )
    )
    return size / 1024


if __name__ == "__main__":
    main()
