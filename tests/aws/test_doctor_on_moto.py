"""`mycli doctor` against the Lambda handlers on moto, behind a loopback HTTP bridge that
plays API Gateway, and plays ECS too: each status poll moves the task one step on (a
RUNNING event and the task's log line, then a STOPPED event with exit code 0)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import boto3
import pytest

from events import ecs_task_event
from lambda_harness import Lambdas
from moto_aws import REGION
from mycli.client import ApiClient
from mycli.commands.doctor import Doctor, Phase
from orchestrator.adapters.aws.s3_results import result_key
from orchestrator.output_segments import (
    Segment,
    SegmentChunk,
    encode_segment,
    segment_key,
    timestamp_of,
)


class FakeEcs:
    """Moves each execution's task forward by one step per status poll."""

    def __init__(self, lambdas: Lambdas) -> None:
        self.lambdas = lambdas
        self.steps: dict[str, int] = {}

    def advance(self, execution: dict[str, Any]) -> None:
        step = self.steps.get(execution["execution_id"], 0)
        self.steps[execution["execution_id"]] = step + 1
        if step == 0:
            self._event(execution, "RUNNING")
            # The run agent's first segment of output, then (step 1) its result.
            data = b"mycli-doctor\n"
            chunk = SegmentChunk(0, "stdout", timestamp_of(time.time()), data)
            self._put(
                segment_key(execution["execution_id"], len(data)),
                encode_segment(Segment(0, (chunk,))),
            )
        elif step == 1:
            self._put(result_key(execution["execution_id"]), b'{"v": 1, "exit_code": 0}')
            self._event(execution, "STOPPED", exit_code=0)

    def _put(self, key: str, body: bytes) -> None:
        boto3.client("s3", region_name=REGION).put_object(
            Bucket=self.lambdas.settings.code_bucket, Key=key, Body=body
        )

    def _event(self, execution: dict[str, Any], status: str, **fields: Any) -> None:
        self.lambdas.invoke(
            "task_events",
            ecs_task_event(
                task_arn=execution["task_ref"],
                cluster_arn=self.lambdas.settings.cluster,
                started_by=execution["execution_id"],
                last_status=status,
                **fields,
            ),
        )


@pytest.fixture
def api_url(lambdas: Lambdas) -> Iterator[str]:
    ecs = FakeEcs(lambdas)

    class Bridge(BaseHTTPRequestHandler):
        def serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            status, answer = lambdas.call(
                self.command,
                url.path,
                self.headers.get("X-API-Key"),
                body=body,
                query=dict(parse_qsl(url.query)) or None,
            )
            if self.command == "GET" and url.path.count("/") == 2 and status == 200:
                ecs.advance(answer)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self.serve()

        def do_POST(self) -> None:
            self.serve()

        def do_DELETE(self) -> None:
            self.serve()

        def log_message(self, *args: Any) -> None:
            return None

    server = HTTPServer(("127.0.0.1", 0), Bridge)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_doctor_passes_against_the_aws_functions(lambdas: Lambdas, api_url: str) -> None:
    phases: list[Phase] = []
    doctor = Doctor(
        ApiClient(api_url, lambdas.alice_key), timeout=20, report=phases.append, poll=0.01
    )

    assert doctor.run(), phases
    assert [p.name for p in phases] == [
        "health",
        "version",
        "key",
        "API round trip",
        "lock taken",
        "PENDING → RUNNING",
        "first log line",
        "exit code recorded",
        "lock released",
    ]
    assert [p.detail for p in phases if p.name == "PENDING → RUNNING"] == ["reached RUNNING"]
    assert [p.detail for p in phases if p.name == "first log line"] == ["'mycli-doctor'"]
    # Its run is a check: in no default listing (the user's, the admin's, a status's), in
    # those that include checks, and readable by id, finished
    for key, query in (
        (lambdas.alice_key, {}),
        (lambdas.admin_key, {}),
        (lambdas.admin_key, {"status": "SUCCEEDED"}),
    ):
        assert lambdas.call("GET", "/executions", key, query=query)[1]["items"] == []
        _, listed = lambdas.call(
            "GET", "/executions", key, query={**query, "include_checks": "true"}
        )
        [check] = listed["items"]
        assert (check["purpose"], check["status"], check["exit_code"]) == ("check", "SUCCEEDED", 0)
    _, record = lambdas.call("GET", f"/executions/{check['execution_id']}", lambdas.alice_key)
    assert (record["user_email"], record["purpose"]) == ("alice@example.com", "check")


def test_doctor_fails_when_the_task_never_reports(lambdas: Lambdas, api_url: str) -> None:
    phases: list[Phase] = []
    client = ApiClient(api_url, lambdas.alice_key)
    # No status polls reach the fake ECS: the doctor sees only what the API says.
    doctor = Doctor(client, timeout=0.5, report=phases.append, poll=0.05)
    doctor._client = _NoStatusPolls(client)

    assert not doctor.run()
    failed = {p.name for p in phases if not p.passed}
    assert failed == {"PENDING → RUNNING", "first log line", "exit code recorded", "lock released"}


class _NoStatusPolls:
    """Answers status polls from the record without letting the fake ECS move on."""

    def __init__(self, client: ApiClient) -> None:
        self._client = client

    def get(self, path: str, **query: Any) -> Any:
        if path.count("/") == 2 and path.startswith("/executions/"):
            return {"status": "STARTING"}
        return self._client.get(path, **query)

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self._client.post(path, body)
