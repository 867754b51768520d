"""The running-execution quota on AWS (Lambda handlers, DynamoDB and ECS on moto): the
limits come from the function's environment, a create over them is 429
too_many_executions, and GET /quota shows the counters. Executions recorded before the
counters existed never move them; the counters' and markers' items are no executions."""

from __future__ import annotations

from dataclasses import replace

import boto3
import pytest

from lambda_harness import Lambdas, reset_runtime
from moto_aws import REGION
from orchestrator.adapters.aws.dynamodb_items import to_item
from orchestrator.domain.models import ExecutionStatus
from orchestrator.handlers import runtime
from support import started_execution

RUNNING = ExecutionStatus.RUNNING


@pytest.fixture
def limited(lambdas: Lambdas, monkeypatch: pytest.MonkeyPatch) -> Lambdas:
    monkeypatch.setenv("MAX_RUNNING_PER_USER", "2")
    monkeypatch.setenv("MAX_RUNNING_TOTAL", "3")
    reset_runtime()
    return lambdas


def test_a_create_over_the_per_user_limit_is_429_with_the_figures(limited: Lambdas) -> None:
    for _ in range(2):
        status, _ = limited.call("POST", "/executions", limited.alice_key, body={"command": "x"})
        assert status == 202

    status, body = limited.call(
        "POST", "/executions", limited.alice_key, body={"command": "x", "lock": "prod"}
    )

    assert status == 429
    assert body["error"]["code"] == "too_many_executions"
    assert "you have 2 running, the limit is 2 per user" in body["error"]["message"]
    assert body["error"]["details"]["running"] == 2
    _, locks = limited.call("GET", "/locks", limited.admin_key)
    assert locks["locks"] == [], "a refused create takes no lock"


def test_the_total_limit_holds_across_users_and_admins_see_it(limited: Lambdas) -> None:
    for key in (limited.alice_key, limited.alice_key, limited.bob_key):
        assert limited.call("POST", "/executions", key, body={"command": "x"})[0] == 202

    status, body = limited.call("POST", "/executions", limited.bob_key, body={"command": "x"})

    assert status == 429
    assert "3 running on the platform, the limit is 3" in body["error"]["message"]
    assert limited.call("GET", "/quota", limited.admin_key) == (
        200,
        {"max_running_per_user": 2, "max_running_total": 3, "running": 0, "total_running": 3},
    )
    assert limited.call("GET", "/quota", limited.bob_key)[1]["total_running"] is None
    assert limited.call("GET", "/quota", limited.bob_key)[1]["running"] == 1


def test_a_finished_execution_frees_its_place(limited: Lambdas) -> None:
    # Given Alice at her limit
    _, first = limited.call("POST", "/executions", limited.alice_key, body={"command": "x"})
    limited.call("POST", "/executions", limited.alice_key, body={"command": "x"})

    # When her first ends (as its task-state event records it)
    runtime.services().executions.finish(first["execution_id"], ExecutionStatus.SUCCEEDED)

    # Then she may start another
    status, _ = limited.call("POST", "/executions", limited.alice_key, body={"command": "x"})
    assert status == 202


def test_the_quota_route_reports_the_counters(limited: Lambdas) -> None:
    # Given a counter that says 2 (the executions behind it are not what GET /quota reads)
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName=limited.settings.executions_table,
        Item={
            "execution_id": {"S": "quota#user#alice@example.com"},
            "started_at": {"S": "-"},
            "running": {"N": "2"},
        },
    )

    # When Alice asks, Then she has 2 running, and a create is refused
    assert limited.call("GET", "/quota", limited.alice_key)[1]["running"] == 2
    status, _ = limited.call("POST", "/executions", limited.alice_key, body={"command": "x"})
    assert status == 429


def test_an_execution_from_before_the_counters_gives_back_nothing(limited: Lambdas) -> None:
    # Given an execution an older release recorded (no slot marker), and one of today's
    executions = runtime.services().executions
    table = limited.settings.executions_table
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    old = started_execution("0" * 32, "x", "task-old", None)
    dynamodb.put_item(TableName=table, Item=to_item(replace(old, status=RUNNING).to_dict()))
    _, today = limited.call("POST", "/executions", limited.alice_key, body={"command": "x"})

    # When the old one ends, twice, Then the counters still hold today's one
    executions.finish(old.execution_id, ExecutionStatus.SUCCEEDED)
    executions.finish(old.execution_id, ExecutionStatus.FAILED)
    assert limited.call("GET", "/quota", limited.admin_key)[1]["total_running"] == 1

    # And today's ending, replayed, brings them to zero and no lower
    executions.finish(today["execution_id"], ExecutionStatus.SUCCEEDED)
    executions.finish(today["execution_id"], ExecutionStatus.FAILED)
    assert limited.call("GET", "/quota", limited.admin_key)[1]["total_running"] == 0
    assert limited.call("GET", "/quota", limited.alice_key)[1]["running"] == 0


@pytest.mark.parametrize("reserved", ["quota%23total", "idempotency%23" + "0" * 32])
def test_counters_and_markers_are_no_executions_to_read(limited: Lambdas, reserved: str) -> None:
    limited.call(
        "POST",
        "/executions",
        limited.alice_key,
        body={"command": "x"},
        headers={"Idempotency-Key": "k1"},
    )

    status, body = limited.call("GET", f"/executions/{reserved}", limited.admin_key)

    assert status == 404, body
    _, page = limited.call("GET", "/executions", limited.admin_key)
    assert [e["command"] for e in page["items"]] == ["x"]
