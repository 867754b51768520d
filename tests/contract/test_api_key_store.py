"""ApiKeyStore contract: lookups by hash and by email, revoke, last-used."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from orchestrator.domain.errors import Conflict
from orchestrator.domain.models import ApiKeyRecord, Role


def record(key_hash: str, email: str, created_at: str, role: Role = Role.USER) -> ApiKeyRecord:
    return ApiKeyRecord(api_key_hash=key_hash, user_email=email, role=role, created_at=created_at)


def test_a_key_reads_back_by_hash_and_by_email(key_store: Any) -> None:
    first = record("h1", "a@x.io", "2026-01-01T00:00:01.000Z", Role.ADMIN)
    second = record("h2", "a@x.io", "2026-01-01T00:00:02.000Z")
    other = record("h3", "b@x.io", "2026-01-01T00:00:03.000Z")
    for item in (first, second, other):
        key_store.put(item)

    assert key_store.get("h1") == first
    assert key_store.get("nope") is None
    assert key_store.list_by_email("a@x.io") == [first, second]
    assert key_store.list_all() == [first, second, other]


def test_revoke_marks_the_key(key_store: Any) -> None:
    key_store.put(record("h1", "a@x.io", "2026-01-01T00:00:01.000Z"))

    key_store.revoke("h1", "2026-01-02T00:00:00.000Z")

    revoked = key_store.get("h1")
    assert (revoked.revoked, revoked.revoked_at) == (True, "2026-01-02T00:00:00.000Z")


def test_touch_only_moves_last_used_forward(key_store: Any) -> None:
    key_store.put(record("h1", "a@x.io", "2026-01-01T00:00:01.000Z"))

    key_store.touch("h1", "2026-01-03T00:00:00.000Z")
    key_store.touch("h1", "2026-01-02T00:00:00.000Z")

    assert key_store.get("h1").last_used == "2026-01-03T00:00:00.000Z"


def test_add_stores_a_new_hash_and_refuses_one_that_exists(key_store: Any) -> None:
    new = record("ab" * 32, "m@x.io", "2025-01-01T00:00:00.000Z")
    key_store.add(new)

    with pytest.raises(Conflict):
        key_store.add(replace(new, user_email="other@x.io"))
    assert key_store.get(new.api_key_hash) == new
