"""The twin serves Lambda's Invoke of the template's functions (twin/functions.py): the pool
manager, invoked asynchronously by the create and the task-events functions, runs in the
twin's process. An Event invoke is answered 202 at once and runs on its own thread; a
RequestResponse one answers the handler's result; any other function is left to moto."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from twin.functions import Function, serving_invokes

REGION = "eu-west-1"
ARN = f"arn:aws:lambda:{REGION}:123456789012:function:Mycli-warm-pools"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Appends the event and the context's function name to the file the event names,
    once the file `gate` names exists when the event has one. (A file, not a
    threading.Event: the twin imports this module under its own name, a second copy.)"""
    gate = event.get("gate")
    deadline = time.monotonic() + 10
    while gate and not Path(gate).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    with Path(event["record"]).open("a") as out:
        out.write(json.dumps({"reason": event["reason"], "name": context.function_name}) + "\n")
    return {"answered": event["reason"]}


def recorded(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def lambda_client(monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in {"AWS_ACCESS_KEY_ID": "twin", "AWS_SECRET_ACCESS_KEY": "twin"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield boto3.client("lambda", region_name=REGION)


def test_an_event_invoke_is_answered_at_once_and_runs_the_function_here(
    lambda_client: Any, tmp_path: Path
) -> None:
    # Given the pool manager served by the twin, and a handler that waits to be released
    manager = Function("Manager", f"{__name__}.handler", "Mycli-warm-pools", ARN, 256)
    record = tmp_path / "invocations"
    gate = tmp_path / "released"
    with serving_invokes({"Manager": manager}):
        # When it is invoked asynchronously, by name and by ARN
        for name, reason in (("Mycli-warm-pools", "claim"), (ARN, "stopped")):
            answer = lambda_client.invoke(
                FunctionName=name,
                InvocationType="Event",
                Payload=json.dumps({"record": str(record), "reason": reason, "gate": str(gate)}),
            )
            # Then Lambda's answer comes at once, before the handler ran
            assert answer["StatusCode"] == 202
        assert recorded(record) == []
        gate.touch()
        deadline = time.monotonic() + 10
        while len(recorded(record)) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    # and each invocation ran the handler, as that function
    assert sorted(r["reason"] for r in recorded(record)) == ["claim", "stopped"]
    assert {r["name"] for r in recorded(record)} == {"Mycli-warm-pools"}


def test_a_request_response_invoke_answers_the_handlers_result(
    lambda_client: Any, tmp_path: Path
) -> None:
    manager = Function("Manager", f"{__name__}.handler", "Mycli-warm-pools", ARN, 256)
    with serving_invokes({"Manager": manager}):
        answer = lambda_client.invoke(
            FunctionName="Mycli-warm-pools",
            Payload=json.dumps({"record": str(tmp_path / "r"), "reason": "asked"}),
        )
    assert answer["StatusCode"] == 200
    assert json.loads(answer["Payload"].read()) == {"answered": "asked"}


def test_another_function_is_left_to_moto(lambda_client: Any) -> None:
    manager = Function("Manager", f"{__name__}.handler", "Mycli-warm-pools", ARN, 256)
    with serving_invokes({"Manager": manager}), pytest.raises(ClientError) as refused:
        lambda_client.invoke(FunctionName="Mycli-other", InvocationType="Event", Payload=b"{}")
    assert refused.value.response["Error"]["Code"] == "ResourceNotFoundException"
