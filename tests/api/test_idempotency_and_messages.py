"""POST /executions with an Idempotency-Key, and validation messages written for people."""

from __future__ import annotations

from typing import Any

import pytest

from api_harness import ApiHarness


def create(api: ApiHarness, key: str, body: dict[str, Any], **headers: str) -> tuple[int, Any]:
    return api.call("POST", "/executions", key, body=body, headers=headers)


def test_a_repeated_key_returns_the_first_execution(api: ApiHarness) -> None:
    first = create(api, api.alice_key, {"command": "sleep 5"}, **{"Idempotency-Key": "k-1"})

    again = create(api, api.alice_key, {"command": "sleep 5"}, **{"idempotency-key": "k-1"})

    assert first[0] == again[0] == 202
    assert again[1]["execution_id"] == first[1]["execution_id"]
    _, page = api.call("GET", "/executions", api.alice_key)
    assert [e["execution_id"] for e in page["items"]] == [first[1]["execution_id"]]
    api.call("POST", f"/executions/{first[1]['execution_id']}/cancel", api.alice_key)


@pytest.mark.parametrize(
    "changed",
    [
        {"command": "echo two"},
        {"command": "echo one", "env": {"A": "1"}},
        {"command": "echo one", "lock": "db"},
        {"command": "echo one", "timeout_seconds": 30},
    ],
    ids=["command", "env", "lock", "timeout"],
)
def test_a_key_reused_for_another_body_is_422_and_starts_nothing(
    api: ApiHarness, changed: dict[str, Any]
) -> None:
    first = create(api, api.alice_key, {"command": "echo one"}, **{"Idempotency-Key": "k-2"})

    status, body = create(api, api.alice_key, changed, **{"Idempotency-Key": "k-2"})

    assert status == 422
    assert body["error"]["code"] == "idempotency_key_reused"
    assert "different request" in body["error"]["message"]
    assert body["error"]["details"] == {"execution_id": first[1]["execution_id"]}
    _, page = api.call("GET", "/executions", api.alice_key)
    assert [e["execution_id"] for e in page["items"]] == [first[1]["execution_id"]]
    assert "request_fingerprint" not in page["items"][0]
    assert "request_fingerprint" not in first[1]


def test_the_same_key_from_another_user_starts_their_own(api: ApiHarness) -> None:
    alices = create(api, api.alice_key, {"command": "true"}, **{"Idempotency-Key": "same"})
    bobs = create(api, api.bob_key, {"command": "true"}, **{"Idempotency-Key": "same"})

    assert bobs[1]["execution_id"] != alices[1]["execution_id"]
    assert bobs[1]["user_email"] == "bob@example.com"


@pytest.mark.parametrize("bad_key", ["has space", "x" * 129, "ünïcode", "a/b"])
def test_a_malformed_key_is_400_described_in_words(api: ApiHarness, bad_key: str) -> None:
    status, body = create(api, api.alice_key, {"command": "true"}, **{"Idempotency-Key": bad_key})

    assert status == 400, body
    assert body["error"]["code"] == "validation_error"
    assert "1-128 characters of letters, digits and . _ : -" in body["error"]["message"]
    assert "^" not in body["error"]["message"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"command": "true", "lock": "has space"}, "lock names are 1-128 characters"),
        ({"command": "true", "lock": ""}, "lock names are 1-128 characters"),
        ({"command": "true", "upload_id": "../x"}, "ids are 1-64 characters"),
    ],
)
def test_pattern_errors_are_described_not_shown_as_regexes(
    api: ApiHarness, body: dict[str, Any], words: str
) -> None:
    status, answer = create(api, api.alice_key, body)

    assert status == 400
    assert words in answer["error"]["message"]
    assert "^[" not in answer["error"]["message"]


def test_an_encoded_execution_id_is_decoded_once_and_not_found(api: ApiHarness) -> None:
    status, body = api.call("GET", "/executions/a%20b", api.alice_key)

    assert status == 404
    assert body["error"]["message"] == "execution a b not found"
