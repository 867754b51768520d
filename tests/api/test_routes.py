"""Every route through the resolver: status codes, the error body, authorization."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest

from api_harness import ApiHarness
from orchestrator.api.app import openapi_json


def wait_finished(api: ApiHarness, key: str, execution_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        _, execution = api.call("GET", f"/executions/{execution_id}", key)
        if execution["status"] in ("SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"):
            return execution
        assert time.monotonic() < deadline
        time.sleep(0.02)


def assert_error(result: tuple[int, Any], status: int, code: str) -> dict[str, Any]:
    got_status, body = result
    assert got_status == status, body
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    return body["error"]


def test_health_needs_no_key(api: ApiHarness) -> None:
    assert api.call("GET", "/health") == (
        200,
        {"status": "ok", "version": "0.1.0", "backend": "local"},
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/me"),
        ("GET", "/executions"),
        ("POST", "/executions"),
        ("GET", "/executions/x"),
        ("GET", "/executions/x/logs"),
        ("POST", "/executions/x/cancel"),
        ("GET", "/locks"),
        ("DELETE", "/locks/x"),
        ("POST", "/locks/x/hold"),
        ("GET", "/lock-history"),
        ("GET", "/users"),
        ("POST", "/users"),
        ("DELETE", "/users/a@b.c"),
    ],
)
@pytest.mark.parametrize("key", [None, "mycli_not-a-key"])
def test_every_other_route_needs_a_valid_key(
    api: ApiHarness, method: str, path: str, key: str | None
) -> None:
    assert_error(api.call(method, path, key, body={}), 401, "unauthorized")


def test_me_names_the_caller(api: ApiHarness) -> None:
    assert api.call("GET", "/me", api.alice_key) == (
        200,
        {"email": "alice@example.com", "role": "user"},
    )


def test_create_run_and_read_an_execution(api: ApiHarness) -> None:
    status, created = api.call(
        "POST",
        "/executions",
        api.alice_key,
        body={"command": "echo $GREETING; exit 4", "env": {"GREETING": "hello"}, "lock": "l1"},
    )
    assert status == 202
    assert created["status"] in ("STARTING", "RUNNING", "FAILED")
    assert created["env_names"] == ["GREETING"]

    finished = wait_finished(api, api.alice_key, created["execution_id"])
    _, logs = api.call("GET", f"/executions/{created['execution_id']}/logs", api.alice_key)

    assert (finished["status"], finished["exit_code"]) == ("FAILED", 4)
    assert [base64.b64decode(c["data"]) for c in logs["chunks"]] == [b"hello\n"]
    assert (logs["status"], logs["complete"], logs["truncated_at"]) == ("FAILED", True, None)
    assert "hello" not in json.dumps(finished)
    assert api.call("GET", "/locks", api.alice_key) == (200, {"locks": []})


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({}, "command: required"),
        ({"command": "true", "colour": "red"}, "colour: unknown field"),
        ({"command": ""}, "command"),
        ({"command": "   "}, "command"),
        ({"command": "true", "lock": "has space"}, "lock"),
        ({"command": "true", "lock": "x" * 129}, "lock"),
        ({"command": "true", "env": {"1BAD": "x"}}, "env"),
        ({"command": "true", "env": {"OK": 5}}, "env"),
        ({"command": "true", "timeout_seconds": 0}, "timeout_seconds"),
        ({"command": "true", "timeout_seconds": 86401}, "timeout_seconds"),
        ({"command": "x" * 20000}, "command"),
        ({"command": "true", "env": {f"V{n}": "v" * 5000 for n in range(4)}}, "16384 bytes"),
    ],
)
def test_bad_execution_requests_are_400_and_store_nothing(
    api: ApiHarness, body: dict[str, Any], problem: str
) -> None:
    error = assert_error(
        api.call("POST", "/executions", api.alice_key, body=body), 400, "validation_error"
    )
    assert problem in error["message"]
    assert api.call("GET", "/executions", api.alice_key)[1]["items"] == []


def test_a_body_that_is_not_json_is_400(api: ApiHarness) -> None:
    assert_error(
        api.call("POST", "/executions", api.alice_key, raw_body="{not json"),
        400,
        "validation_error",
    )


def test_a_held_lock_is_409_naming_holder_execution_and_expiry(api: ApiHarness) -> None:
    _, first = api.call(
        "POST", "/executions", api.alice_key, body={"command": "sleep 5", "lock": "prod"}
    )

    error = assert_error(
        api.call("POST", "/executions", api.bob_key, body={"command": "true", "lock": "prod"}),
        409,
        "lock_held",
    )

    assert error["details"]["holder"] == "alice@example.com"
    assert error["details"]["execution_id"] == first["execution_id"]
    assert error["details"]["expires_at"] > first["started_at"]
    api.call("POST", f"/executions/{first['execution_id']}/cancel", api.alice_key)


def test_another_users_execution_is_404_but_visible_to_an_admin(api: ApiHarness) -> None:
    _, mine = api.call("POST", "/executions", api.alice_key, body={"command": "sleep 5"})
    path = f"/executions/{mine['execution_id']}"

    assert_error(api.call("GET", path, api.bob_key), 404, "not_found")
    assert_error(api.call("GET", f"{path}/logs", api.bob_key), 404, "not_found")
    assert_error(api.call("POST", f"{path}/cancel", api.bob_key), 404, "not_found")
    assert api.call("GET", path, api.admin_key)[0] == 200
    assert api.call("POST", f"{path}/cancel", api.admin_key)[0] == 202
    assert (
        wait_finished(api, api.alice_key, mine["execution_id"])["cancelled_by"]
        == "admin@example.com"
    )


def test_cancel_is_idempotent_on_a_finished_execution(api: ApiHarness) -> None:
    _, created = api.call("POST", "/executions", api.alice_key, body={"command": "true"})
    wait_finished(api, api.alice_key, created["execution_id"])

    status, again = api.call("POST", f"/executions/{created['execution_id']}/cancel", api.alice_key)

    assert (status, again["status"]) == (202, "SUCCEEDED")


def test_listing_pages_newest_first_and_respects_ownership(api: ApiHarness) -> None:
    ids = [
        api.call("POST", "/executions", api.alice_key, body={"command": f"echo {n}"})[1][
            "execution_id"
        ]
        for n in range(3)
    ]
    api.call("POST", "/executions", api.bob_key, body={"command": "true"})

    _, first = api.call("GET", "/executions", api.alice_key, query={"limit": "2"})
    _, second = api.call(
        "GET", "/executions", api.alice_key, query={"limit": "2", "cursor": first["next_cursor"]}
    )
    _, everyone = api.call("GET", "/executions", api.admin_key, query={"limit": "100"})
    _, bobs = api.call("GET", "/executions", api.admin_key, query={"user": "bob@example.com"})

    assert [e["execution_id"] for e in first["items"] + second["items"]] == ids[::-1]
    assert second["next_cursor"] is None
    assert len(everyone["items"]) == 4
    assert {e["user_email"] for e in bobs["items"]} == {"bob@example.com"}
    assert_error(
        api.call("GET", "/executions", api.alice_key, query={"user": "bob@example.com"}),
        403,
        "forbidden",
    )


@pytest.mark.parametrize(
    "query",
    [{"limit": "0"}, {"limit": "101"}, {"limit": "x"}, {"status": "NOPE"}, {"cursor": "!!"}],
)
def test_bad_listing_parameters_are_400(api: ApiHarness, query: dict[str, str]) -> None:
    assert_error(
        api.call("GET", "/executions", api.alice_key, query=query), 400, "validation_error"
    )


def test_logs_are_the_exact_bytes_of_each_stream(api: ApiHarness) -> None:
    # Given a command writing a bare \r, bytes that are not UTF-8 and a partial line on stderr
    _, created = api.call(
        "POST",
        "/executions",
        api.alice_key,
        body={"command": "printf 'a\\rb\\377\\n'; sleep 0.1; printf 'err' >&2"},
    )
    wait_finished(api, api.alice_key, created["execution_id"])

    # When its logs are read
    _, page = api.call("GET", f"/executions/{created['execution_id']}/logs", api.alice_key)

    # Then each chunk holds its stream's exact bytes, at its offset
    chunks = [(c["offset"], c["stream"], base64.b64decode(c["data"])) for c in page["chunks"]]
    assert chunks == [(0, "stdout", b"a\rb\xff\n"), (5, "stderr", b"err")]
    assert (page["next_cursor"], page["complete"]) == ("8", True)
    assert page["chunks"][0]["timestamp"].endswith("Z")


def test_logs_are_cut_at_max_bytes_and_continue_at_the_cursor(api: ApiHarness) -> None:
    _, created = api.call(
        "POST", "/executions", api.alice_key, body={"command": "printf 0123456789"}
    )
    wait_finished(api, api.alice_key, created["execution_id"])
    path = f"/executions/{created['execution_id']}/logs"

    _, first = api.call("GET", path, api.alice_key, query={"max_bytes": "4"})
    _, rest = api.call("GET", path, api.alice_key, query={"cursor": first["next_cursor"]})

    assert (base64.b64decode(first["chunks"][0]["data"]), first["complete"]) == (b"0123", False)
    assert (base64.b64decode(rest["chunks"][0]["data"]), rest["complete"]) == (b"456789", True)


def test_a_waiting_logs_request_answers_as_soon_as_output_arrives(api: ApiHarness) -> None:
    # Given a command that prints after a pause
    _, created = api.call(
        "POST", "/executions", api.alice_key, body={"command": "sleep 0.5; echo late; sleep 5"}
    )
    path = f"/executions/{created['execution_id']}/logs"

    # When its logs are asked for with a long wait
    started = time.monotonic()
    _, page = api.call("GET", path, api.alice_key, query={"wait": "10"})
    elapsed = time.monotonic() - started

    # Then the answer comes with the output, well before the wait is over
    assert [base64.b64decode(c["data"]) for c in page["chunks"]] == [b"late\n"]
    assert elapsed < 4
    api.call("POST", f"/executions/{created['execution_id']}/cancel", api.alice_key)


@pytest.mark.parametrize(
    "query",
    [
        {"cursor": "abc"},
        {"cursor": "-1"},
        {"cursor": "\u00b2"},
        {"cursor": "1" * 40},
        {"cursor": "99"},
        {"max_bytes": "0"},
        {"max_bytes": "1048577"},
        {"wait": "21"},
        {"wait": "-1"},
        {"wait": "x"},
    ],
)
def test_bad_log_parameters_are_400(api: ApiHarness, query: dict[str, str]) -> None:
    _, created = api.call("POST", "/executions", api.alice_key, body={"command": "printf x"})
    wait_finished(api, api.alice_key, created["execution_id"])
    path = f"/executions/{created['execution_id']}/logs"

    assert_error(api.call("GET", path, api.alice_key, query=query), 400, "validation_error")


def test_users_routes_are_admin_only(api: ApiHarness) -> None:
    assert_error(api.call("GET", "/users", api.alice_key), 403, "forbidden")
    assert_error(
        api.call("POST", "/users", api.alice_key, body={"email": "x@y.z"}), 403, "forbidden"
    )
    assert_error(api.call("DELETE", "/users/bob@example.com", api.alice_key), 403, "forbidden")


def test_an_admin_adds_a_user_whose_key_works_until_revoked(api: ApiHarness) -> None:
    status, created = api.call("POST", "/users", api.admin_key, body={"email": "carol@example.com"})
    assert status == 201
    key = created["api_key"]
    assert api.call("GET", "/me", key)[1]["email"] == "carol@example.com"

    assert api.call("DELETE", "/users/carol@example.com", api.admin_key)[0] == 200

    assert_error(api.call("GET", "/me", key), 401, "unauthorized")
    _, users = api.call("GET", "/users", api.admin_key)
    carol = next(u for u in users["items"] if u["email"] == "carol@example.com")
    assert carol["revoked"] is True
    assert key not in json.dumps(users)
    assert not any("hash" in field for user in users["items"] for field in user)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"email": "not-an-email"}, 400, "validation_error"),
        ({"email": "x@y.z", "role": "root"}, 400, "validation_error"),
        ({"email": "alice@example.com"}, 409, "conflict"),
    ],
)
def test_bad_user_requests(api: ApiHarness, body: dict[str, Any], status: int, code: str) -> None:
    assert_error(api.call("POST", "/users", api.admin_key, body=body), status, code)


def test_an_admin_force_releases_a_lock(api: ApiHarness) -> None:
    _, holder = api.call(
        "POST", "/executions", api.alice_key, body={"command": "sleep 5", "lock": "prod"}
    )

    status, released = api.call("DELETE", "/locks/prod", api.admin_key)

    assert (status, released["execution_id"]) == (200, holder["execution_id"])
    assert api.call("GET", "/locks", api.alice_key)[1]["locks"] == []
    _, execution = api.call("GET", f"/executions/{holder['execution_id']}", api.alice_key)
    assert execution["lock_released_by"] == "admin@example.com"
    assert_error(api.call("DELETE", "/locks/prod", api.admin_key), 404, "not_found")
    api.call("POST", f"/executions/{holder['execution_id']}/cancel", api.alice_key)


def test_an_unknown_route_is_a_404_error_body(api: ApiHarness) -> None:
    assert_error(api.call("GET", "/nope", api.alice_key), 404, "not_found")


def test_the_committed_openapi_document_matches_the_routes() -> None:
    committed = Path(__file__).parents[2] / "docs" / "openapi.json"
    assert json.loads(committed.read_text()) == json.loads(openapi_json()), (
        "docs/openapi.json is stale: python -m orchestrator.api.openapi > docs/openapi.json"
    )


def test_every_route_documents_429_throttled_with_retry_after() -> None:
    # The API stage's rate limit and AWS throttling can answer any route, /health included
    for path, item in json.loads(openapi_json())["paths"].items():
        for method, operation in item.items():
            throttled = operation["responses"].get("429")
            assert throttled is not None, (method, path)
            assert "throttled" in throttled["description"]
            assert throttled["headers"]["Retry-After"]["schema"] == {"type": "integer"}


def test_the_openapi_document_covers_every_route_of_the_contract() -> None:
    paths = json.loads(openapi_json())["paths"]
    operations = {(method.upper(), path) for path, item in paths.items() for method in item}
    assert operations == {
        ("GET", "/health"),
        ("GET", "/me"),
        ("GET", "/quota"),
        ("POST", "/executions"),
        ("GET", "/executions"),
        ("GET", "/executions/{execution_id}"),
        ("GET", "/executions/{execution_id}/logs"),
        ("POST", "/executions/{execution_id}/cancel"),
        ("GET", "/locks"),
        ("DELETE", "/locks/{lock_name}"),
        ("POST", "/locks/{lock_name}/hold"),
        ("GET", "/lock-history"),
        ("POST", "/users"),
        ("GET", "/users"),
        ("DELETE", "/users/{email}"),
        ("POST", "/uploads"),
        ("POST", "/images"),
        ("GET", "/images"),
        ("PATCH", "/images/{name}"),
        ("DELETE", "/images/{name}"),
        ("PUT", "/secrets/{name}"),
        ("GET", "/secrets"),
        ("DELETE", "/secrets/{name}"),
        ("PUT", "/import/keys/{api_key_hash}"),
        ("PUT", "/import/executions/{execution_id}/output"),
        ("PUT", "/import/executions/{execution_id}"),
    }


def test_a_lock_name_with_slashes_is_released_percent_encoded(api: ApiHarness) -> None:
    _, holder = api.call(
        "POST", "/executions", api.alice_key, body={"command": "sleep 5", "lock": "team/prod"}
    )

    status, released = api.call("DELETE", "/locks/team%2Fprod", api.admin_key)

    assert (status, released["lock_name"]) == (200, "team/prod")
    assert_error(api.call("DELETE", "/locks/bad%20name", api.admin_key), 400, "validation_error")
    api.call("POST", f"/executions/{holder['execution_id']}/cancel", api.alice_key)


def test_an_email_is_revoked_percent_encoded(api: ApiHarness) -> None:
    api.call("POST", "/users", api.admin_key, body={"email": "dev+ops@example.com"})
    status, revoked = api.call("DELETE", "/users/dev%2Bops%40example.com", api.admin_key)
    assert (status, revoked["email"], revoked["revoked"]) == (200, "dev+ops@example.com", True)


def test_an_upload_slot_is_created_but_an_execution_refuses_it_until_completed(
    api: ApiHarness,
) -> None:
    status, slot = api.call("POST", "/uploads", api.alice_key)

    assert status == 201
    assert set(slot) == {"upload_id", "url", "method", "headers", "expires_at", "max_bytes"}
    assert (slot["method"], slot["max_bytes"]) == ("PUT", 50 * 1024 * 1024)
    error = assert_error(
        api.call(
            "POST",
            "/executions",
            api.alice_key,
            body={"command": "ls", "upload_id": slot["upload_id"]},
        ),
        404,
        "not_found",
    )
    assert "never completed" in error["message"]
    assert api.call("GET", "/executions", api.alice_key)[1]["items"] == []


@pytest.mark.parametrize("upload_id", ["../../etc", "a" * 65, ""])
def test_malformed_upload_ids_are_400(api: ApiHarness, upload_id: str) -> None:
    assert_error(
        api.call(
            "POST", "/executions", api.alice_key, body={"command": "ls", "upload_id": upload_id}
        ),
        400,
        "validation_error",
    )


def test_the_playbook_named_in_a_request_is_recorded(api: ApiHarness) -> None:
    # When a run is created on behalf of a playbook
    status, created = api.call(
        "POST", "/executions", api.alice_key, body={"command": "true", "playbook": "deploy-web"}
    )

    # Then the record and the listing name it
    assert (status, created["playbook"]) == (202, "deploy-web")
    _, page = api.call("GET", "/executions", api.alice_key)
    assert [item["playbook"] for item in page["items"]] == ["deploy-web"]


@pytest.mark.parametrize("name", ["", "has space", "../up", "-dash", "x" * 65, "tab\there", 5])
def test_a_bad_playbook_name_is_400_and_stores_nothing(api: ApiHarness, name: Any) -> None:
    error = assert_error(
        api.call("POST", "/executions", api.alice_key, body={"command": "true", "playbook": name}),
        400,
        "validation_error",
    )
    assert "playbook" in error["message"]
    assert api.call("GET", "/executions", api.alice_key)[1]["items"] == []
