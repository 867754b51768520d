"""The import routes (`mycli migrate`) with synthetic API Gateway events on the embedded
platform: admin only; a key by its hash then authenticates; output before the record; the
same record again is a no-op (200, imported false), another one under its id a 409; bad
input is a 4xx, never a 5xx; an imported run takes no slot and starts nothing."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from api_harness import ApiHarness
from orchestrator.domain.users import hash_api_key

KEY = "mycli_migrated-key-from-elsewhere"
STAMP = "2025-02-01T09:00:00.250Z"
BAD = "0000-13-01T00:00:00.000Z"  # the shape of a timestamp, but no moment


def record(execution_id: str = "old1", **changes: Any) -> dict[str, Any]:
    return {
        "execution_id": execution_id,
        "user_email": "carol@example.com",
        "command": "make deploy",
        "status": "FAILED",
        "started_at": "2025-02-01T09:00:00.000Z",
        "finished_at": "2025-02-01T09:00:05.000Z",
        "timeout_seconds": 600,
        "exit_code": 2,
        "log_stream_name": f"{execution_id}.out",
        "lock_name": "prod",
        "env_names": ["A"],
        **changes,
    }


def chunk(offset: int, data: bytes, stream: str = "stdout") -> dict[str, Any]:
    return {
        "offset": offset,
        "stream": stream,
        "timestamp": STAMP,
        "data": base64.b64encode(data).decode(),
    }


def test_an_imported_key_hash_authenticates_its_user(api: ApiHarness) -> None:
    body = {"user_email": "carol@example.com", "role": "user", "created_at": STAMP}
    path = f"/import/keys/{hash_api_key(KEY)}"

    assert api.call("PUT", path, api.admin_key, body=body) == (200, {"imported": True})
    assert api.call("PUT", path, api.admin_key, body=body) == (200, {"imported": False})
    status, me = api.call("GET", "/me", KEY)
    assert status == 200 and me["email"] == "carol@example.com"
    # The same hash as another user's: refused, not overwritten.
    other = {**body, "user_email": "mallory@example.com"}
    assert api.call("PUT", path, api.admin_key, body=other)[0] == 409
    assert api.call("GET", "/me", KEY)[1]["email"] == "carol@example.com"


def test_output_then_record_makes_a_finished_run_with_its_exact_logs(api: ApiHarness) -> None:
    output = "/import/executions/old1/output"
    pieces = [chunk(0, b"building\n"), chunk(9, b"\xffboom\n", "stderr")]
    assert api.call("PUT", output, api.admin_key, body={"chunks": pieces}) == (
        200,
        {"stored_bytes": 15},
    )
    body = {"execution": record(), "output_bytes": 15}

    assert api.call("PUT", "/import/executions/old1", api.admin_key, body=body) == (
        200,
        {"imported": True},
    )
    assert api.call("PUT", "/import/executions/old1", api.admin_key, body=body) == (
        200,
        {"imported": False},
    )

    status, execution = api.call("GET", "/executions/old1", api.admin_key)
    assert status == 200 and execution["exit_code"] == 2 and execution["status"] == "FAILED"
    status, logs = api.call("GET", "/executions/old1/logs", api.admin_key)
    assert [(c["stream"], base64.b64decode(c["data"])) for c in logs["chunks"]] == [
        ("stdout", b"building\n"),
        ("stderr", b"\xffboom\n"),
    ]
    assert logs["complete"] is True
    # No slot, no lock: the quota and the lock list are as before.
    assert api.call("GET", "/locks", api.admin_key)[1]["locks"] == []
    assert api.call("GET", "/quota", api.admin_key)[1]["total_running"] == 0
    # Another record under the same id: 409, the first kept; output for it: 409.
    changed = {"execution": record(exit_code=0), "output_bytes": 15}
    assert api.call("PUT", "/import/executions/old1", api.admin_key, body=changed)[0] == 409
    assert api.call("PUT", output, api.admin_key, body={"chunks": pieces})[0] == 409
    assert api.call("GET", "/executions/old1", api.admin_key)[1]["exit_code"] == 2


def test_a_record_before_its_output_says_how_much_is_stored(api: ApiHarness) -> None:
    body = {"execution": record("old2"), "output_bytes": 4}

    status, error = api.call("PUT", "/import/executions/old2", api.admin_key, body=body)

    assert status == 400 and error["error"]["details"]["stored"] == 0
    assert api.call("GET", "/executions/old2", api.admin_key)[0] == 404


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/import/keys/NOTAHASH", {"user_email": "a@b", "role": "user", "created_at": STAMP}),
        (f"/import/keys/{'a' * 64}", {"user_email": "a@b", "role": "boss", "created_at": STAMP}),
        (f"/import/keys/{'a' * 64}", {"user_email": "a@b", "role": "user", "created_at": "x"}),
        (f"/import/keys/{'a' * 64}", {"user_email": "a@b", "role": "user", "created_at": BAD}),
        ("/import/executions/e/output", {"chunks": [{**chunk(0, b"x"), "timestamp": BAD}]}),
        ("/import/executions/e", {"execution": record("e", started_at=BAD), "output_bytes": 0}),
        ("/import/executions/e/output", {"chunks": []}),
        ("/import/executions/e/output", {"chunks": [{**chunk(0, b"x"), "data": "%%%%"}]}),
        ("/import/executions/e/output", {"chunks": [chunk(0, b"x"), chunk(5, b"y")]}),
        ("/import/executions/e/output", {"chunks": [chunk(3, b"x")]}),
        ("/import/executions/e/output", {"chunks": [{**chunk(0, b"x"), "stream": "combined"}]}),
        ("/import/executions/e", {"execution": record("e", status="RUNNING"), "output_bytes": 0}),
        ("/import/executions/e", {"execution": record("other"), "output_bytes": 0}),
        ("/import/executions/e", {"execution": record("e", log_truncated_at=3), "output_bytes": 0}),
        ("/import/executions/e", {"execution": record("e", surprise=1), "output_bytes": 0}),
        ("/import/executions/e", {"execution": record("e"), "output_bytes": -1}),
        ("/import/executions/e", {"execution": "not a record", "output_bytes": 0}),
    ],
)
def test_bad_input_is_a_400_and_stores_nothing(api: ApiHarness, path: str, body: Any) -> None:
    status, error = api.call("PUT", path, api.admin_key, body=body)

    assert status == 400, error
    assert api.call("GET", "/executions/e", api.admin_key)[0] == 404


def test_only_admins_import(api: ApiHarness) -> None:
    body = {"user_email": "a@b.c", "role": "admin", "created_at": STAMP}

    assert api.call("PUT", f"/import/keys/{'b' * 64}", api.alice_key, body=body)[0] == 403
    assert api.call("PUT", f"/import/keys/{'b' * 64}", None, body=body)[0] == 401
    status, _ = api.call(
        "PUT", "/import/executions/x/output", api.alice_key, body={"chunks": [chunk(0, b"x")]}
    )
    assert status == 403
