"""The running-execution quota on AWS (Lambda handlers, DynamoDB and ECS on moto): the
limits come from the function's environment, a create over them is 429
too_many_executions, and GET /quota shows the figures."""

from __future__ import annotations

import pytest

from lambda_harness import Lambdas, reset_runtime
from orchestrator.domain.models import ExecutionStatus
from orchestrator.handlers import runtime


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
    assert locks["items"] == [], "a refused create takes no lock"


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
