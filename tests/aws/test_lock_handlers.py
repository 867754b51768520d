"""The locks functions on moto (DynamoDB Locks + LockQueue tables): holds, who may release
what, the one picture and the history, through each route's own Lambda handler."""

from __future__ import annotations

from typing import Any

from lambda_harness import Lambdas


def code(response: tuple[int, Any]) -> tuple[int, str]:
    return response[0], response[1]["error"]["code"]


def hold(lambdas: Lambdas, key: str, lock: str, reason: str = "incident 42") -> Any:
    status, holder = lambdas.call(
        "POST", f"/locks/{lock}/hold", key, body={"reason": reason, "seconds": 600}
    )
    assert status == 201, holder
    return holder


def test_a_hold_refuses_runs_shows_in_the_picture_and_is_released_by_its_holder(
    lambdas: Lambdas,
) -> None:
    holder = hold(lambdas, lambdas.alice_key, "team%2Fprod")

    refused = lambdas.call(
        "POST", "/executions", lambdas.bob_key, body={"command": "x", "lock": "team/prod"}
    )
    again = lambdas.call("POST", "/locks/team%2Fprod/hold", lambdas.bob_key, body={"reason": "r"})
    _, picture = lambdas.call("GET", "/locks", lambdas.bob_key)
    denied = lambdas.call("DELETE", "/locks/team%2Fprod", lambdas.bob_key)
    released = lambdas.call("DELETE", "/locks/team%2Fprod", lambdas.alice_key)

    assert (holder["kind"], holder["lock_name"], holder["reason"]) == (
        "hold",
        "team/prod",
        "incident 42",
    )
    assert code(refused) == (409, "lock_held")
    assert code(again) == (409, "lock_held")
    assert again[1]["error"]["details"]["reason"] == "incident 42"
    assert picture == {"locks": [{"name": "team/prod", "holder": holder, "queue": []}]}
    assert code(denied) == (403, "forbidden")
    assert released == (200, holder)
    assert lambdas.call("GET", "/locks", lambdas.bob_key) == (200, {"locks": []})


def test_a_run_s_lock_is_released_by_an_admin_only_and_recorded(lambdas: Lambdas) -> None:
    status, run = lambdas.call(
        "POST", "/executions", lambdas.alice_key, body={"command": "x", "lock": "prod"}
    )
    assert status == 202, run
    hold(lambdas, lambdas.bob_key, "staging")

    assert code(lambdas.call("DELETE", "/locks/prod", lambdas.alice_key)) == (403, "forbidden")
    status, released = lambdas.call("DELETE", "/locks/prod", lambdas.admin_key)
    assert (status, released["kind"], released["execution_id"]) == (200, "run", run["execution_id"])
    assert released["status"] == "STARTING"
    assert lambdas.call("DELETE", "/locks/staging", lambdas.admin_key)[0] == 200
    assert code(lambdas.call("DELETE", "/locks/staging", lambdas.admin_key)) == (404, "not_found")

    _, history = lambdas.call("GET", "/lock-history", lambdas.alice_key)
    _, prod = lambdas.call("GET", "/lock-history", lambdas.alice_key, query={"lock_name": "prod"})
    assert [(e["action"], e["lock_name"], e["user_email"]) for e in history["items"]] == [
        ("release", "staging", "admin@example.com"),
        ("force_release", "prod", "admin@example.com"),
        ("hold", "staging", "bob@example.com"),
    ]
    assert prod["items"] == history["items"][1:2]
    _, execution = lambdas.call("GET", f"/executions/{run['execution_id']}", lambdas.alice_key)
    assert execution["lock_released_by"] == "admin@example.com"


def test_history_pages_and_bad_input_on_the_functions(lambdas: Lambdas) -> None:
    for n in range(3):
        hold(lambdas, lambdas.alice_key, f"l{n}")

    first = lambdas.call("GET", "/lock-history", lambdas.bob_key, query={"limit": "2"})[1]
    rest = lambdas.call(
        "GET",
        "/lock-history",
        lambdas.bob_key,
        query={"limit": "2", "cursor": first["next_cursor"]},
    )[1]

    assert [e["lock_name"] for e in first["items"] + rest["items"]] == ["l2", "l1", "l0"]
    assert rest["next_cursor"] is None
    for method, path, body, query in [
        ("POST", "/locks/bad%20name/hold", {"reason": "r"}, None),
        ("POST", "/locks/prod/hold", {"reason": ""}, None),
        ("POST", "/locks/prod/hold", {"reason": "r", "seconds": 86401}, None),
        ("DELETE", "/locks/bad%20name", None, None),
        ("GET", "/lock-history", None, {"limit": "0"}),
        ("GET", "/lock-history", None, {"cursor": "zz"}),
        ("GET", "/lock-history", None, {"lock_name": "#history"}),
    ]:
        response = lambdas.call(method, path, lambdas.alice_key, body=body, query=query)
        assert code(response) == (400, "validation_error"), (method, path, response)
