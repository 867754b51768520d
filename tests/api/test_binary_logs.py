"""The logs route's binary page (Accept: application/octet-stream), as both hosts serve it:
Lambda (the body base64-flagged, as API Gateway needs it to send binary) and the local
server (the same bytes, unencoded)."""

from __future__ import annotations

import base64
import json
from typing import Any

from test_routes import wait_finished

from api_harness import ApiHarness
from events import LambdaContext, rest_event
from orchestrator.api.app import Api

BINARY = {"Accept": "application/octet-stream"}


def handle(api: ApiHarness, host: Api, path: str, **kwargs: Any) -> dict[str, Any]:
    event = rest_event("GET", path, key=api.alice_key, **kwargs)
    context = LambdaContext(event["requestContext"]["requestId"])
    return host.handle(event, context, api.services)  # type: ignore[arg-type]


def split(body: bytes) -> tuple[dict[str, Any], list[tuple[int, str, bytes]]]:
    """The page's JSON line, and each chunk as (offset, stream, bytes)."""
    line, _, data = body.partition(b"\n")
    head = json.loads(line)
    chunks, position = [], 0
    for stream, _, length in head["chunks"]:
        chunks.append((head["offset"] + position, stream, data[position : position + length]))
        position += length
    assert position == len(data)
    return head, chunks


def finished(api: ApiHarness, command: str) -> str:
    _, created = api.call("POST", "/executions", api.alice_key, body={"command": command})
    wait_finished(api, api.alice_key, created["execution_id"])
    return f"/executions/{created['execution_id']}/logs"


def test_the_lambda_host_answers_binary_base64_flagged_with_each_streams_exact_bytes(
    api: ApiHarness,
) -> None:
    # Given a run writing a bare \r, bytes that are not UTF-8 and a partial line on stderr
    path = finished(api, "printf 'a\\rb\\377\\n'; sleep 0.1; printf 'err' >&2")

    # When its logs are asked for as binary, through the Lambda host
    result = handle(api, Api(), path, headers=BINARY)

    # Then the body is base64 and flagged so (API Gateway sends it as binary), and holds the
    # page's fields and each stream's exact bytes
    assert (result["statusCode"], result["isBase64Encoded"]) == (200, True)
    assert result["multiValueHeaders"]["Content-Type"] == ["application/octet-stream"]
    assert result["headers"]["X-Content-Type-Options"] == "nosniff"
    head, chunks = split(base64.b64decode(result["body"]))
    assert chunks == [(0, "stdout", b"a\rb\xff\n"), (5, "stderr", b"err")]
    assert (head["v"], head["next_cursor"], head["status"]) == (1, "8", "SUCCEEDED")
    assert (head["complete"], head["truncated_at"]) == (True, None)


def test_the_local_host_answers_the_same_bytes_unencoded(api: ApiHarness) -> None:
    path = finished(api, "printf 'out'; printf '\\377' >&2")

    on_lambda = handle(api, Api(), path, headers=BINARY)
    local = handle(api, Api(raw_bytes=True), path, headers=BINARY)

    assert local["isBase64Encoded"] is False
    assert local["body"] == base64.b64decode(on_lambda["body"])


def test_binary_pages_are_cut_at_max_bytes_and_continue_at_the_cursor(api: ApiHarness) -> None:
    path = finished(api, "printf 0123456789")

    first = handle(api, Api(), path, headers=BINARY, query={"max_bytes": "4"})
    head, chunks = split(base64.b64decode(first["body"]))
    rest = handle(api, Api(), path, headers=BINARY, query={"cursor": head["next_cursor"]})
    rest_head, rest_chunks = split(base64.b64decode(rest["body"]))

    assert (chunks, head["complete"]) == ([(0, "stdout", b"0123")], False)
    assert (rest_chunks, rest_head["complete"]) == ([(4, "stdout", b"456789")], True)


def test_json_stays_the_default_and_errors_stay_json(api: ApiHarness) -> None:
    path = finished(api, "printf x")

    default = handle(api, Api(), path)
    missing = handle(api, Api(), "/executions/nope/logs", headers=BINARY)
    bad_cursor = handle(api, Api(), path, headers=BINARY, query={"cursor": "x"})

    assert json.loads(default["body"])["chunks"][0]["data"] == "eA=="
    assert (missing["statusCode"], json.loads(missing["body"])["error"]["code"]) == (
        404,
        "not_found",
    )
    assert (bad_cursor["statusCode"], bad_cursor["isBase64Encoded"]) == (400, False)


def test_the_completing_page_says_how_the_run_ended_on_both_hosts_and_in_json(
    api: ApiHarness,
) -> None:
    # Given a run that failed with its own exit code
    path = finished(api, "printf x; exit 3")
    _, record = api.call("GET", path.removesuffix("/logs"), api.alice_key)

    # When its last page is asked for as JSON, and as binary through both hosts
    _, as_json = api.call("GET", path, api.alice_key)
    on_lambda, _ = split(base64.b64decode(handle(api, Api(), path, headers=BINARY)["body"]))
    local, _ = split(handle(api, Api(raw_bytes=True), path, headers=BINARY)["body"])

    # Then each carries the record's status, exit code and reason beside `complete`
    ending = {key: record[key] for key in ("status", "exit_code", "reason")}
    assert ending["status"] == "FAILED" and ending["exit_code"] == 3
    for page in (as_json, on_lambda, local):
        assert page["complete"] is True
        assert {key: page[key] for key in ending} == ending


def test_a_running_page_has_no_exit_code_or_reason_yet(api: ApiHarness) -> None:
    _, created = api.call("POST", "/executions", api.alice_key, body={"command": "sleep 5"})
    path = f"/executions/{created['execution_id']}/logs"

    _, as_json = api.call("GET", path, api.alice_key)
    head, _ = split(base64.b64decode(handle(api, Api(), path, headers=BINARY)["body"]))
    api.call("POST", f"/executions/{created['execution_id']}/cancel", api.alice_key)

    for page in (as_json, head):
        assert page["complete"] is False
        assert (page["exit_code"], page["reason"]) == (None, None)
