"""Lambda cold-start proxy: for every function, a fresh interpreter imports its handler module
and serves its first request against moto (ThreadedMotoServer on 127.0.0.1). "cold start" is
from spawning the interpreter to the handler's response (medians of 5). Prints a table of
milliseconds and which AWS adapters each function loaded, and the asset's size.

Target (2-core machine): <= 350 ms median for every function; no function loads an adapter
that only another function needs; the asset under 1 MB."""

from __future__ import annotations

import fnmatch
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from common import print_table  # noqa: E402

from events import ecs_task_event, rest_event  # noqa: E402

RUNS = 5
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
    "import_ms": (imported - started) * 1000,
    "request_ms": (served - imported) * 1000,
    "status": result.get("statusCode", 200),
    "adapters": loaded,
    "boto3": "boto3" in sys.modules,
}))
"""


def start_moto() -> Any:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def main() -> None:
    os.environ.update(
        AWS_DEFAULT_REGION="eu-west-1",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_METRICS_NAMESPACE="mycli",
    )
    server, endpoint = start_moto()
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    from moto_aws import create_executor, create_tables, environment
    from orchestrator.adapters.aws.clients import AwsClients
    from orchestrator.adapters.aws.dynamodb import DynamoApiKeyStore, DynamoExecutionStore
    from orchestrator.adapters.aws.settings import AwsSettings
    from orchestrator.adapters.clock import SystemClock
    from orchestrator.domain.models import Role
    from orchestrator.domain.users import UserService
    from orchestrator.handlers.catalog import ASSET_EXCLUDES, ROUTES

    create_tables()
    executor = create_executor()
    settings = AwsSettings(
        api_keys_table="APIKeys",
        executions_table="Executions",
        locks_table="Locks",
        log_group="/mycli/executions",
        **executor,
    )
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

    def invoke(module: str, event: dict[str, Any]) -> dict[str, Any]:
        child = subprocess.run(
            [sys.executable, "-c", CHILD, module, json.dumps(event), repr(time.time())],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode != 0:
            sys.exit(f"{module} failed:\n{child.stderr}")
        result: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
        return result

    created = invoke(
        "create_execution",
        rest_event("POST", "/executions", key=key, body={"command": "true", "lock": "bench"}),
    )
    executions = DynamoExecutionStore(clients.dynamodb, "Executions")
    [execution] = executions.list_page(user_email=None, status=None, limit=1, cursor=None).items
    assert created["status"] == 202
    sample = {
        "execution_id": execution.execution_id,
        "lock_name": "bench",
        "email": "nobody@example.com",
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

    rows = []
    for module, event in events.items():
        runs = [invoke(module, event) for _ in range(RUNS)]
        cold = statistics.median(r["cold_ms"] for r in runs)
        rows.append(
            [
                module,
                runs[0]["status"],
                f"{cold:.0f}",
                f"{statistics.median(r['import_ms'] for r in runs):.0f}",
                f"{statistics.median(r['request_ms'] for r in runs):.0f}",
                ",".join(
                    a
                    for a in runs[0]["adapters"]
                    if a not in ("clients", "composition", "settings", "metrics")
                )
                or "-",
                "ok" if cold <= 350 else "OVER",
            ]
        )
    server.stop()
    print_table(
        [
            "function",
            "status",
            "cold start ms",
            "import ms",
            "1st request ms",
            "AWS adapters loaded",
            "<= 350",
        ],
        rows,
    )
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
    print(
        f"\nLambda asset (lambda_src without local-only code): {size / 1024:.0f} KiB "
        "(target < 1024 KiB)"
    )


if __name__ == "__main__":
    main()
