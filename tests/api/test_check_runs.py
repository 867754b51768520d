"""Checks through the API (embedded platform): POST /executions with purpose "check" is a
real, readable run that GET /executions lists only with include_checks=true."""

from __future__ import annotations

import time
from typing import Any

import pytest

from api_harness import ApiHarness


def ids(page: dict[str, Any]) -> list[str]:
    return [e["execution_id"] for e in page["items"]]


def finished(api: ApiHarness, key: str, execution_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        _, execution = api.call("GET", f"/executions/{execution_id}", key)
        if execution["status"] in ("SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"):
            return execution
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_a_check_is_recorded_readable_and_listed_only_on_request(api: ApiHarness) -> None:
    # Given a run and then a check of alice's
    _, run = api.call("POST", "/executions", api.alice_key, body={"command": "echo run"})
    status, check = api.call(
        "POST", "/executions", api.alice_key, body={"command": "echo ok", "purpose": "check"}
    )
    assert (status, check["purpose"], run["purpose"]) == (202, "check", "run")

    # Then the check runs and its record and logs are there
    done = finished(api, api.alice_key, check["execution_id"])
    assert (done["status"], done["exit_code"], done["purpose"]) == ("SUCCEEDED", 0, "check")
    status, logs = api.call("GET", f"/executions/{check['execution_id']}/logs", api.alice_key)
    assert status == 200 and logs["chunks"]

    # And alice's and the admin's default listings leave it out; include_checks shows it
    for key in (api.alice_key, api.admin_key):
        assert ids(api.call("GET", "/executions", key)[1]) == [run["execution_id"]]
        _, everything = api.call("GET", "/executions", key, query={"include_checks": "true"})
        assert ids(everything) == [check["execution_id"], run["execution_id"]]
    _, false = api.call("GET", "/executions", api.alice_key, query={"include_checks": "false"})
    assert ids(false) == [run["execution_id"]]

    # And paging with include_checks reaches both, one per page
    _, first = api.call(
        "GET", "/executions", api.alice_key, query={"include_checks": "true", "limit": "1"}
    )
    _, second = api.call(
        "GET",
        "/executions",
        api.alice_key,
        query={"include_checks": "true", "limit": "1", "cursor": first["next_cursor"]},
    )
    assert ids(first) + ids(second) == [check["execution_id"], run["execution_id"]]
    assert second["next_cursor"] is None


@pytest.mark.parametrize("purpose", ["probe", "", "CHECK", 1, None])
def test_an_unknown_purpose_is_400_and_starts_nothing(api: ApiHarness, purpose: Any) -> None:
    status, body = api.call(
        "POST", "/executions", api.alice_key, body={"command": "echo x", "purpose": purpose}
    )
    assert (status, body["error"]["code"]) == (400, "validation_error")
    assert "purpose" in body["error"]["message"] + str(body["error"]["details"])
    assert (
        api.call("GET", "/executions", api.alice_key, query={"include_checks": "true"})[1]["items"]
        == []
    )


@pytest.mark.parametrize("value", ["1", "yes", "True", ""])
def test_include_checks_takes_only_true_or_false(api: ApiHarness, value: str) -> None:
    status, body = api.call("GET", "/executions", api.alice_key, query={"include_checks": value})
    assert (status, body["error"]["code"]) == (400, "validation_error")


def test_a_check_takes_a_running_slot(api: ApiHarness) -> None:
    # Given a check still running
    _, check = api.call(
        "POST", "/executions", api.alice_key, body={"command": "sleep 5", "purpose": "check"}
    )
    try:
        # Then the quota counts it
        _, quota = api.call("GET", "/quota", api.alice_key)
        assert quota["running"] == 1, quota
    finally:
        api.call("POST", f"/executions/{check['execution_id']}/cancel", api.alice_key)
    finished(api, api.alice_key, check["execution_id"])
