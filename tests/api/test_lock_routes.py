"""The locks routes through the resolver on the embedded platform: the one picture, holds,
who may release what (the authorization matrix of issue 21), history, and bad input (4xx,
never a 5xx)."""

from __future__ import annotations

from typing import Any

import pytest

from api_harness import ApiHarness
from orchestrator.domain.models import parse_iso

HOLDER_KEYS = {
    "kind",
    "lock_name",
    "execution_id",
    "user_email",
    "since",
    "until",
    "status",
    "reason",
}


def error_code(response: tuple[int, Any]) -> tuple[int, str]:
    status, body = response
    return status, body["error"]["code"]


def hold(api: ApiHarness, key: str, lock: str, reason: str = "incident 42", **body: Any) -> Any:
    status, holder = api.call("POST", f"/locks/{lock}/hold", key, body={"reason": reason} | body)
    assert status == 201, holder
    return holder


def test_a_hold_is_201_with_the_holder_and_shows_in_the_picture(api: ApiHarness) -> None:
    holder = hold(api, api.alice_key, "prod", seconds=120)

    assert set(holder) == HOLDER_KEYS
    assert holder["kind"] == "hold" and holder["execution_id"].startswith("hold-")
    assert (holder["lock_name"], holder["user_email"]) == ("prod", "alice@example.com")
    assert (holder["status"], holder["reason"]) == (None, "incident 42")
    assert holder["since"] < holder["until"]
    assert api.call("GET", "/locks", api.bob_key) == (
        200,
        {"locks": [{"name": "prod", "holder": holder, "queue": []}]},
    )


def test_a_hold_lasts_an_hour_by_default(api: ApiHarness) -> None:
    holder = hold(api, api.alice_key, "prod")

    assert (parse_iso(holder["until"]) - parse_iso(holder["since"])).total_seconds() == 3600


def test_a_run_s_lock_shows_the_run_and_its_status(api: ApiHarness) -> None:
    _, run = api.call(
        "POST", "/executions", api.alice_key, body={"command": "sleep 5", "lock": "prod"}
    )

    _, picture = api.call("GET", "/locks", api.bob_key)

    [view] = picture["locks"]
    assert view["holder"]["kind"] == "run"
    assert view["holder"]["execution_id"] == run["execution_id"]
    assert view["holder"]["status"] in {"PENDING", "STARTING", "RUNNING"}
    assert view["holder"]["reason"] is None and view["queue"] == []
    api.call("POST", f"/executions/{run['execution_id']}/cancel", api.alice_key)


def test_a_held_lock_refuses_runs_and_other_holds_naming_the_hold(api: ApiHarness) -> None:
    holder = hold(api, api.alice_key, "prod")

    run = api.call("POST", "/executions", api.bob_key, body={"command": "true", "lock": "prod"})
    status, refused = api.call("POST", "/locks/prod/hold", api.bob_key, body={"reason": "me"})

    assert error_code(run) == (409, "lock_held")
    assert status == 409 and refused["error"]["code"] == "lock_held"
    details = refused["error"]["details"]
    assert (details["holder"], details["holder_kind"]) == ("alice@example.com", "hold")
    assert (details["reason"], details["expires_at"]) == ("incident 42", holder["until"])
    assert details["execution_id"] == holder["execution_id"]
    assert "incident 42" in refused["error"]["message"]


def test_who_may_release_what(api: ApiHarness) -> None:
    """Any user holds and releases their own hold; someone else's hold or a run's lock
    needs an admin."""
    hold(api, api.alice_key, "alices")
    hold(api, api.alice_key, "for-admin")
    _, run = api.call(
        "POST", "/executions", api.bob_key, body={"command": "sleep 5", "lock": "bobs-run"}
    )

    assert error_code(api.call("DELETE", "/locks/alices", api.bob_key)) == (403, "forbidden")
    assert error_code(api.call("DELETE", "/locks/bobs-run", api.bob_key)) == (403, "forbidden")
    assert error_code(api.call("DELETE", "/locks/bobs-run", api.alice_key)) == (403, "forbidden")
    own = api.call("DELETE", "/locks/alices", api.alice_key)
    by_admin = api.call("DELETE", "/locks/for-admin", api.admin_key)
    run_lock = api.call("DELETE", "/locks/bobs-run", api.admin_key)

    assert (own[0], own[1]["kind"], own[1]["user_email"]) == (200, "hold", "alice@example.com")
    assert (by_admin[0], by_admin[1]["lock_name"]) == (200, "for-admin")
    assert (run_lock[0], run_lock[1]["kind"]) == (200, "run")
    assert run_lock[1]["execution_id"] == run["execution_id"]
    assert api.call("GET", "/locks", api.bob_key) == (200, {"locks": []})
    for key in (api.alice_key, api.admin_key):
        assert error_code(api.call("DELETE", "/locks/alices", key)) == (404, "not_found")
    api.call("POST", f"/executions/{run['execution_id']}/cancel", api.bob_key)


def test_history_lists_holds_and_releases_newest_first_for_anyone(api: ApiHarness) -> None:
    hold(api, api.alice_key, "prod", reason="freeze")
    api.call("DELETE", "/locks/prod", api.admin_key)
    hold(api, api.bob_key, "team/prod".replace("/", "%2F"), reason="deploy")

    status, everything = api.call("GET", "/lock-history", api.bob_key)
    _, prod = api.call("GET", "/lock-history", api.bob_key, query={"lock_name": "prod"})

    assert status == 200 and everything["next_cursor"] is None
    assert [(e["action"], e["lock_name"], e["user_email"]) for e in everything["items"]] == [
        ("hold", "team/prod", "bob@example.com"),
        ("release", "prod", "admin@example.com"),
        ("hold", "prod", "alice@example.com"),
    ]
    release = everything["items"][1]
    assert set(release) == {
        "lock_name",
        "action",
        "user_email",
        "at",
        "reason",
        "holder_id",
        "holder_email",
    }
    assert (release["holder_email"], release["reason"]) == ("alice@example.com", "freeze")
    assert prod["items"] == everything["items"][1:]


def test_history_pages_follow_next_cursor(api: ApiHarness) -> None:
    for n in range(3):
        hold(api, api.alice_key, f"l{n}")

    first = api.call("GET", "/lock-history", api.alice_key, query={"limit": "2"})[1]
    rest = api.call(
        "GET", "/lock-history", api.alice_key, query={"limit": "2", "cursor": first["next_cursor"]}
    )[1]

    assert len(first["items"]) == 2 and first["next_cursor"]
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    assert {e["lock_name"] for e in first["items"] + rest["items"]} == {"l0", "l1", "l2"}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"reason": ""},
        {"reason": "   "},
        {"reason": "r" * 501},
        {"reason": "line\nbreak"},
        {"reason": 5},
        {"reason": "r", "seconds": 0},
        {"reason": "r", "seconds": 86401},
        {"reason": "r", "seconds": "60"},
        {"reason": "r", "seconds": 1.5},
        {"reason": "r", "seconds": True},
        {"reason": "r", "extra": 1},
        [],
    ],
)
def test_bad_hold_bodies_are_400_and_take_nothing(api: ApiHarness, body: Any) -> None:
    assert error_code(api.call("POST", "/locks/prod/hold", api.alice_key, body=body)) == (
        400,
        "validation_error",
    )
    assert api.call("GET", "/locks", api.alice_key)[1] == {"locks": []}
    assert api.call("GET", "/lock-history", api.alice_key)[1]["items"] == []


@pytest.mark.parametrize("lock", ["bad%20name", "x" * 129, "%00", "a%0Ab", "%2E%2E%2F%23x"])
def test_invalid_lock_names_are_400_on_every_lock_route(api: ApiHarness, lock: str) -> None:
    for method, path, body in [
        ("POST", f"/locks/{lock}/hold", {"reason": "r"}),
        ("DELETE", f"/locks/{lock}", None),
    ]:
        response = api.call(method, path, api.admin_key, body=body)
        assert error_code(response) == (400, "validation_error"), (method, path, response)


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "201"},
        {"limit": "x"},
        {"limit": "-1"},
        {"cursor": "not-a-cursor"},
        {"cursor": "e30"},  # {} encoded: not one of ours
        {"lock_name": "bad name"},
        {"lock_name": "x" * 129},
        {"lock_name": "#history"},
    ],
)
def test_bad_history_queries_are_400(api: ApiHarness, query: dict[str, str]) -> None:
    assert error_code(api.call("GET", "/lock-history", api.alice_key, query=query)) == (
        400,
        "validation_error",
    )


def test_releasing_a_lock_nobody_holds_is_404(api: ApiHarness) -> None:
    assert error_code(api.call("DELETE", "/locks/nobody", api.alice_key)) == (404, "not_found")
    assert error_code(api.call("DELETE", "/locks/nobody", api.admin_key)) == (404, "not_found")
