"""What loads at start-up. The local server: not `cryptography` (~6 MB resident) until a
secret is sealed or opened (bench/output_throughput.py's server RSS). A Lambda handler module
(bench/cold_start.py's import column): no botocore client machinery (`botocore.client`,
~100 ms with its waiters and docs) until a route needs a client, and the clients' calls
still traced once it does. (Powertools itself imports the light `botocore` package.)

Each case runs a fresh interpreter; the handlers' with the environment Lambda sets, tracing on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAMBDA_ENV = {
    "PYTHONPATH": str(ROOT / "lambda_src"),
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_LAMBDA_FUNCTION_NAME": "mycli-test",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
    "LAMBDA_TASK_ROOT": str(ROOT / "lambda_src"),
    "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
    "POWERTOOLS_METRICS_NAMESPACE": "mycli",
}
PROBE = """
import json, sys
import orchestrator.handlers.{module} as handler_module
from orchestrator.handlers import runtime
loaded_at_import = "botocore.client" in sys.modules
runtime.clients().dynamodb
from aws_xray_sdk.core.patcher import _PATCHED_MODULES
print(json.dumps({{"client_at_import": loaded_at_import, "patched": sorted(_PATCHED_MODULES)}}))
"""


def start_up(module: str) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != "POWERTOOLS_TRACE_DISABLED"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)],
        env={**env, **LAMBDA_ENV},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def test_given_tracing_on_when_a_route_handler_is_imported_then_botocore_waits() -> None:
    probed = start_up("health")

    assert probed["client_at_import"] is False
    assert probed["patched"] == ["botocore"]


def test_given_tracing_on_when_task_events_builds_its_clients_then_their_calls_are_traced() -> None:
    probed = start_up("task_events")

    assert probed["client_at_import"] is False
    assert probed["patched"] == ["botocore"]


def test_given_a_fresh_data_dir_when_the_local_server_starts_then_cryptography_waits_for_a_secret(
    tmp_path: Path,
) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from common import local_server

    data_dir = tmp_path / "data"
    with local_server(data_dir):
        pid = json.loads((data_dir / "server.json").read_text())["pid"]
        mapped = Path(f"/proc/{pid}/maps").read_text()

    assert (data_dir / "secrets.key").exists()
    assert "cryptography" not in mapped


def test_given_tracing_on_when_health_answers_then_no_botocore_client_was_needed() -> None:
    probe = (
        "import sys; from events import LambdaContext, rest_event\n"
        "from orchestrator.handlers.health import handler\n"
        "answer = handler(rest_event('GET', '/health'), LambdaContext('req-1'))\n"
        "print(answer['statusCode'], 'botocore.client' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "POWERTOOLS_TRACE_DISABLED"}
    env.update(LAMBDA_ENV, PYTHONPATH=f"{ROOT / 'lambda_src'}{os.pathsep}{ROOT / 'tests'}")
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.stdout.split()[-2:] == ["200", "False"], result.stdout + result.stderr
