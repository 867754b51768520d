"""Secrets through the API (synthetic API Gateway events, the embedded platform behind):
admin only, never a value in a response, exec with secrets checked before anything starts."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

from api_harness import ApiHarness

VALUE = "Pa55-Value-Never-Shown"


def put(api: ApiHarness, name: str, key: str, **body: Any) -> tuple[int, Any]:
    return api.call("PUT", f"/secrets/{name}", key, body={"value": VALUE, **body})


def test_an_admin_sets_lists_and_deletes_a_secret_and_never_sees_its_value(
    api: ApiHarness,
) -> None:
    responses = [
        put(api, "db.password", api.admin_key, description="prod db", images=["psql"]),
        put(api, "db.password", api.admin_key),
        api.call("GET", "/secrets", api.admin_key),
        api.call("DELETE", "/secrets/db.password", api.admin_key),
        api.call("DELETE", "/secrets/db.password", api.admin_key),
    ]

    (s1, first), (s2, second), (s3, listed), (s4, deleted), (s5, again) = responses
    assert (s1, s2, s3, s4, s5) == (200, 200, 200, 200, 404)
    assert first == {
        "name": "db.password",
        "description": "prod db",
        "images": ["psql"],
        "set_by": "admin@example.com",
        "set_at": first["set_at"],
        "version": 1,
    }
    assert second["version"] == 2 and listed["items"] == [second]
    assert deleted["name"] == "db.password" and again["error"]["code"] == "not_found"
    assert VALUE not in json.dumps(responses)


def test_users_cannot_set_list_or_delete_secrets(api: ApiHarness) -> None:
    put(api, "token", api.admin_key)

    for status, body in (
        put(api, "token", api.alice_key),
        api.call("GET", "/secrets", api.alice_key),
        api.call("DELETE", "/secrets/token", api.alice_key),
    ):
        assert (status, body["error"]["code"]) == (403, "forbidden")
    assert api.call("GET", "/secrets", None)[0] == 401


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        ("/secrets/bad%20name", {"value": VALUE}, "names are 1-128 characters"),
        ("/secrets/..", {"value": VALUE}, "not starting with . or -"),
        ("/secrets/%2e%2e", {"value": VALUE}, "not starting with . or -"),
        ("/secrets/.env", {"value": VALUE}, "not starting with . or -"),
        ("/secrets/ok", {"value": ""}, "value"),
        ("/secrets/ok", {"value": VALUE + "\x00"}, "must not contain NUL"),
        ("/secrets/ok", {"value": "x" * 8193}, "value"),
        ("/secrets/ok", {"value": 5}, "value"),
        ("/secrets/ok", {}, "value: required"),
        ("/secrets/ok", {"value": VALUE, "images": ["a b"]}, "names are 1-128"),
        ("/secrets/ok", {"value": VALUE, "extra": 1}, "unknown field"),
    ],
)
def test_bad_secret_requests_are_400_and_never_echo_the_value(
    api: ApiHarness, path: str, body: dict[str, Any], words: str
) -> None:
    status, answer = api.call("PUT", path, api.admin_key, body=body)

    assert status == 400, answer
    assert words in answer["error"]["message"]
    assert VALUE not in json.dumps(answer)
    assert api.call("GET", "/secrets", api.admin_key)[1]["items"] == []


def wait_finished(api: ApiHarness, execution_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        _, execution = api.call("GET", f"/executions/{execution_id}", api.alice_key)
        if execution["status"] in ("SUCCEEDED", "FAILED"):
            return dict(execution)
        time.sleep(0.05)
    raise AssertionError("the execution did not finish")


def test_a_run_gets_the_secret_masked_in_its_logs_and_records_only_its_name(
    api: ApiHarness,
) -> None:
    put(api, "db.password", api.admin_key)

    status, started = api.call(
        "POST",
        "/executions",
        api.alice_key,
        body={"command": 'echo "pw=$DB"; test "${#DB}" = 22', "secrets": {"DB": "db.password"}},
    )
    finished = wait_finished(api, started["execution_id"])
    _, logs = api.call("GET", f"/executions/{started['execution_id']}/logs", api.alice_key)

    assert status == 202 and finished["status"] == "SUCCEEDED"
    assert finished["secret_names"] == ["DB=db.password"]
    assert b"".join(base64.b64decode(c["data"]) for c in logs["chunks"]) == b"pw=***\n"
    assert VALUE not in json.dumps([started, finished, logs])


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"secrets": {"DB": "missing"}}, "no such secret: missing"),
        ({"secrets": {"DB": "restricted"}}, "restricted to images: terraform"),
        ({"secrets": {"DB": "open"}, "env": {"DB": "x"}}, "DB set both as env and as a secret"),
        ({"secrets": {"1DB": "open"}}, "invalid variable name"),
        ({"secrets": {"DB": "bad name"}}, "secret names are"),
        ({"secrets": {f"V{n}": "open" for n in range(21)}}, "secrets"),
    ],
)
def test_a_run_with_a_refused_secret_is_400_and_takes_no_lock(
    api: ApiHarness, body: dict[str, Any], words: str
) -> None:
    put(api, "open", api.admin_key)
    put(api, "restricted", api.admin_key, images=["terraform"])

    status, answer = api.call(
        "POST", "/executions", api.alice_key, body={"command": "true", "lock": "prod", **body}
    )

    assert status == 400 and words in answer["error"]["message"], answer
    assert api.call("GET", "/locks", api.alice_key)[1]["locks"] == []
    assert api.call("GET", "/executions", api.alice_key)[1]["items"] == []
