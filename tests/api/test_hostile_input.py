"""Hostile input through the resolver (issue 9, points 1 and 2): every odd request is a 4xx
with the error body, the document lists what each route answers, and nothing is coerced."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from test_routes import assert_error, wait_finished

from api_harness import ApiHarness
from events import LambdaContext, rest_event
from orchestrator.api.app import openapi_json


def create(api: ApiHarness, body: Any, **kwargs: Any) -> tuple[int, Any]:
    return api.call("POST", "/executions", api.alice_key, body=body, **kwargs)


def raw_call(api: ApiHarness, event: dict[str, Any]) -> tuple[int, Any]:
    response = api.api.handle(event, LambdaContext("raw"), api.services)  # type: ignore[arg-type]
    return response["statusCode"], json.loads(response["body"])


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"command": "echo \x00 hi"}, "command: must not contain NUL"),
        ({"command": "echo hi", "env": {"A": "x\x00y"}}, "env: value of A must not contain NUL"),
        ({"command": "printf '\x1b[31m'"}, "command: must not contain control characters"),
        ({"command": "true", "env": {"A\n": "x"}}, "invalid variable name"),
        ({"command": "true", "lock": "deploy\n"}, "lock: must not contain control characters"),
    ],
)
def test_a_forbidden_character_is_400_and_takes_no_lock(
    api: ApiHarness, body: dict[str, Any], words: str
) -> None:
    # given a lock name, when the request holds a character the domain forbids
    error = assert_error(create(api, {"lock": "nul-lock"} | body), 400, "validation_error")

    # then it is refused in words, nothing runs and the lock is free
    assert words in error["message"]
    assert api.call("GET", "/locks", api.admin_key) == (200, {"locks": []})
    assert api.call("GET", "/executions", api.alice_key)[1]["items"] == []


def test_tabs_newlines_and_any_env_value_but_nul_are_accepted(api: ApiHarness) -> None:
    status, execution = create(
        api, {"command": "printf '%s\r' \"$V\"\n\ttrue\n", "env": {"V": "a\tb\nc\x1bd é"}}
    )

    assert status == 202, execution
    assert wait_finished(api, api.alice_key, execution["execution_id"])["exit_code"] == 0


@pytest.mark.parametrize(
    "body",
    [
        [1],
        "x",
        5,
        None,
        {},
        {"email": 5},
        {"email": None},
        {"email": ["a@b.c"]},
        {"email": "a\x00@b.c"},
        {"email": "a\ud800@b.c"},
        {"email": "a\u0085@b.c"},
        {"email": "a@b.c", "role": 1},
        {"email": "a@b.c", "role": True},
        {"email": "a@b.c", "role": "root"},
        {"email": "a@b.c", "extra": 1},
        {"email": "a" * 300 + "@b.c"},
    ],
)
def test_odd_user_bodies_are_400(api: ApiHarness, body: Any) -> None:
    status, answer = api.call("POST", "/users", api.admin_key, body=body)

    assert_error((status, answer), 400, "validation_error")
    assert [u["email"] for u in api.call("GET", "/users", api.admin_key)[1]["items"]] == [
        "admin@example.com",
        "alice@example.com",
        "bob@example.com",
    ]


@pytest.mark.parametrize(
    ("raw_body", "base64_encoded", "words"),
    [
        (base64.b64encode(b'{"command": "\xff\xfe"}').decode(), True, "not valid UTF-8"),
        ("not base64!", True, "not valid UTF-8"),
        ("[" * 10_000 + "]" * 10_000, False, "nests too deeply"),
        ('{"command": "true", "timeout_seconds": ' + "9" * 5000 + "}", False, "not valid JSON"),
        ('{"command": "true"', False, "not valid JSON"),
        ('{"command": "\\ud800"}', False, "command"),
    ],
)
def test_unreadable_bodies_are_400(
    api: ApiHarness, raw_body: str, base64_encoded: bool, words: str
) -> None:
    event = rest_event("POST", "/executions", key=api.alice_key, raw_body=raw_body)
    event["isBase64Encoded"] = base64_encoded

    error = assert_error(raw_call(api, event), 400, "validation_error")

    assert words in error["message"]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_a_body_that_is_not_declared_json_is_415(api: ApiHarness, content_type: str) -> None:
    result = create(api, {"command": "true"}, headers={"Content-Type": content_type})

    assert_error(result, 415, "unsupported_media_type")


def test_json_with_a_charset_is_json(api: ApiHarness) -> None:
    status, _ = create(
        api, {"command": "true"}, headers={"Content-Type": "application/json; charset=utf-8"}
    )

    assert status == 202


@pytest.mark.parametrize("timeout", [True, False, "10", 1.5, 10.0, [10], None])
def test_timeout_seconds_is_an_integer_never_coerced(api: ApiHarness, timeout: Any) -> None:
    status, answer = create(api, {"command": "true", "timeout_seconds": timeout})

    if timeout is None:  # null is the documented "use the default"
        assert status == 202, answer
        return
    assert_error((status, answer), 400, "validation_error")
    assert answer["error"]["message"].startswith("invalid request: timeout_seconds")


def test_an_integer_timeout_is_taken_as_is(api: ApiHarness) -> None:
    status, execution = create(api, {"command": "true", "timeout_seconds": 10})

    assert (status, execution["timeout_seconds"]) == (202, 10)


@pytest.mark.parametrize(
    "cursor", ["99999999999999999999999", str(2**63), "²", "-1", "1.0", " 1", "0x10", "x" * 1024]
)
def test_odd_log_cursors_are_400(api: ApiHarness, cursor: str) -> None:
    _, execution = create(api, {"command": "echo hi"})
    wait_finished(api, api.alice_key, execution["execution_id"])

    result = api.call(
        "GET",
        f"/executions/{execution['execution_id']}/logs",
        api.alice_key,
        query={"cursor": cursor},
    )

    assert_error(result, 400, "validation_error")


@pytest.mark.parametrize("length", [1024, 1025])
def test_a_listing_cursor_up_to_the_documented_length_is_read_and_longer_is_refused(
    api: ApiHarness, length: int
) -> None:
    # given a cursor of the documented maximum length (it is not one the server made)
    status, answer = api.call("GET", "/executions", api.alice_key, query={"cursor": "A" * length})

    # then it is checked and refused as a cursor, or for its length past the maximum
    assert_error((status, answer), 400, "validation_error")
    if length == 1024:
        assert answer["error"]["message"] == "invalid cursor"
    else:
        assert "cursor" in answer["error"]["message"]


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "1_0"},
        {"limit": " 5"},
        {"limit": "+5"},
        {"limit": "5.0"},
        {"limit": "\u0665"},
        {"user": "a\x00@b.c"},
        {"user": "a\nb"},
        {"cursor": "a\x00"},
    ],
)
def test_query_values_are_read_only_as_documented(api: ApiHarness, query: dict[str, str]) -> None:
    assert_error(
        api.call("GET", "/executions", api.admin_key, query=query), 400, "validation_error"
    )


def test_a_lone_surrogate_in_a_query_value_is_400(api: ApiHarness) -> None:
    event = rest_event("GET", "/executions", key=api.admin_key)
    event["queryStringParameters"] = {"user": "a\ud800@b.c"}
    event["multiValueQueryStringParameters"] = {"user": ["a\ud800@b.c"]}

    assert_error(raw_call(api, event), 400, "validation_error")


@pytest.mark.parametrize("wait", ["nan", "inf", "-0.5", "1_0", "0x1"])
def test_odd_waits_are_400(api: ApiHarness, wait: str) -> None:
    _, execution = create(api, {"command": "true"})
    path = f"/executions/{execution['execution_id']}/logs"

    assert_error(
        api.call("GET", path, api.alice_key, query={"wait": wait}), 400, "validation_error"
    )


def test_a_decimal_wait_is_read(api: ApiHarness) -> None:
    _, execution = create(api, {"command": "true"})
    wait_finished(api, api.alice_key, execution["execution_id"])
    path = f"/executions/{execution['execution_id']}/logs"

    assert api.call("GET", path, api.alice_key, query={"wait": "0.01"})[0] == 200


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("TRACE", "/executions", "GET, POST"),
        ("PUT", "/executions", "GET, POST"),
        ("PATCH", "/executions/x", "GET"),
        ("GET", "/executions/x/cancel", "POST"),
        ("POST", "/locks/x", "DELETE"),
    ],
)
def test_another_method_on_a_known_path_is_405(
    api: ApiHarness, method: str, path: str, allowed: str
) -> None:
    event = rest_event(method, path, key=api.admin_key)
    response = api.api.handle(event, LambdaContext("m"), api.services)  # type: ignore[arg-type]

    assert response["statusCode"] == 405
    assert json.loads(response["body"])["error"]["code"] == "method_not_allowed"
    headers = response.get("multiValueHeaders") or {}
    assert headers.get("Allow") == [allowed] or response["headers"].get("Allow") == allowed


def test_a_path_value_is_decoded_exactly_once(api: ApiHarness) -> None:
    # given a valid non-ASCII id of 40 characters, 240 once percent-encoded
    encoded = "%C3%A9" * 40

    # then the length limit applies to the decoded value: a plain 404
    status, answer = api.call("GET", f"/executions/{encoded}", api.alice_key)
    assert (status, answer["error"]["message"]) == (404, f"execution {'é' * 40} not found")

    # and an encoded "%" stays a "%": "%252F" is the 3 characters "%2F", not a "/"
    result = api.call("DELETE", "/locks/a%252Fb", api.admin_key)
    assert_error(result, 400, "validation_error")


def test_an_over_long_id_once_decoded_is_400(api: ApiHarness) -> None:
    assert_error(
        api.call("GET", "/executions/" + "%C3%A9" * 65, api.alice_key), 400, "validation_error"
    )


# -- the document --------------------------------------------------------------------------


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    document = json.loads(openapi_json())
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def test_health_is_open_and_every_other_operation_needs_the_key() -> None:
    document = json.loads(openapi_json())

    assert "security" not in document
    assert document["components"]["securitySchemes"] == {
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    }
    for method, path, operation in operations():
        if (method, path) == ("GET", "/health"):
            assert "security" not in operation
        else:
            assert operation["security"] == [{"apiKey": []}], (method, path)


@pytest.mark.parametrize(
    ("method", "path", "statuses"),
    [
        ("GET", "/health", {"200", "400"}),
        ("GET", "/me", {"200", "400", "401"}),
        ("POST", "/executions", {"202", "400", "401", "404", "409", "413", "415"}),
        ("GET", "/executions", {"200", "400", "401", "403"}),
        ("GET", "/executions/{execution_id}", {"200", "400", "401", "404"}),
        ("GET", "/executions/{execution_id}/logs", {"200", "400", "401", "404"}),
        ("POST", "/executions/{execution_id}/cancel", {"202", "400", "401", "404"}),
        ("GET", "/locks", {"200", "400", "401"}),
        ("DELETE", "/locks/{lock_name}", {"200", "400", "401", "403", "404"}),
        ("POST", "/locks/{lock_name}/hold", {"201", "400", "401", "409", "413", "415"}),
        ("GET", "/lock-history", {"200", "400", "401"}),
        ("POST", "/users", {"201", "400", "401", "403", "409", "413", "415"}),
        ("GET", "/users", {"200", "400", "401", "403"}),
        ("DELETE", "/users/{email}", {"200", "400", "401", "403", "404", "409"}),
        ("POST", "/uploads", {"201", "400", "401"}),
        ("PATCH", "/images/{name}", {"200", "400", "401", "403", "404", "413", "415"}),
        ("PUT", "/secrets/{name}", {"200", "400", "401", "403", "413", "415"}),
        ("GET", "/secrets", {"200", "400", "401", "403"}),
        ("DELETE", "/secrets/{name}", {"200", "400", "401", "403", "404"}),
    ],
)
def test_every_status_a_route_answers_is_documented_with_its_body(
    method: str, path: str, statuses: set[str]
) -> None:
    operation = next(op for m, p, op in operations() if (m, p) == (method, path))

    assert set(operation["responses"]) >= statuses
    for status, response in operation["responses"].items():
        schema = response["content"]["application/json"]["schema"]
        if not status.startswith("2"):
            assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (method, path, status)
