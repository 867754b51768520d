"""Every SecretStore passes the same suite: in memory, SQLite with Fernet, SSM on moto."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from fakes import InMemorySecretStore
from moto_aws import REGION
from orchestrator.adapters.aws.ssm_secrets import SsmSecretStore
from orchestrator.adapters.local.database import Database
from orchestrator.adapters.local.secrets import KEY_FILE, FernetSecretStore
from orchestrator.domain.models import MAX_SECRET_VALUE_BYTES, Secret
from orchestrator.ports import SecretStore

SECRET_STORES: dict[str, Callable[[pytest.FixtureRequest, Path], Any]] = {
    "memory": lambda request, tmp: InMemorySecretStore(),
    "sqlite": lambda request, tmp: FernetSecretStore(Database(tmp / "contract.db"), tmp / KEY_FILE),
    "ssm": lambda request, tmp: _ssm(request.getfixturevalue("aws")),
}


def _ssm(settings: Any) -> SsmSecretStore:
    ssm = boto3.client("ssm", region_name=REGION)
    return SsmSecretStore(ssm, settings.secrets_path, settings.secrets_key)


@pytest.fixture(params=sorted(SECRET_STORES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> SecretStore:
    made: SecretStore = SECRET_STORES[request.param](request, tmp_path)
    return made


def secret(name: str, images: tuple[str, ...] = (), description: str = "") -> Secret:
    return Secret(name, description, images, "admin@example.com", "2026-01-01T00:00:00.000Z", 0)


def test_a_put_secret_is_described_listed_and_revealed(store: SecretStore) -> None:
    stored = store.put(secret("db.password", ("psql", "terraform"), "the db"), "pa55-wörd")

    assert stored == Secret(
        "db.password",
        "the db",
        ("psql", "terraform"),
        "admin@example.com",
        "2026-01-01T00:00:00.000Z",
        1,
    )
    assert store.describe(["db.password", "missing"]) == {"db.password": stored}
    assert store.list() == [stored]
    assert store.reveal(["db.password", "missing"], "exec-1") == {"db.password": "pa55-wörd"}


def test_a_replaced_secret_has_the_next_version_and_the_new_value(store: SecretStore) -> None:
    store.put(secret("token"), "first")

    replaced = store.put(secret("token", description="rotated"), "second")

    assert (replaced.version, replaced.description) == (2, "rotated")
    assert store.reveal(["token"], "exec-1") == {"token": "second"}


def test_listing_is_by_name(store: SecretStore) -> None:
    for name in ("b", "a", "c"):
        store.put(secret(name), f"value-{name}")

    assert [s.name for s in store.list()] == ["a", "b", "c"]


def test_a_deleted_secret_is_gone(store: SecretStore) -> None:
    kept = store.put(secret("kept"), "v1")
    store.put(secret("gone"), "v2")

    deleted = store.delete("gone")

    assert deleted is not None and deleted.name == "gone"
    assert store.delete("gone") is None
    assert store.describe(["gone"]) == {} and store.reveal(["gone"], "e") == {}
    assert store.list() == [kept]


def test_more_secrets_than_one_batch_are_described_and_revealed(store: SecretStore) -> None:
    names = [f"s{n:02d}" for n in range(23)]
    for name in names:
        store.put(secret(name), f"value-{name}")

    assert sorted(store.describe(names)) == names
    assert store.reveal(names, "e1") == {name: f"value-{name}" for name in names}


def test_the_largest_value_round_trips(store: SecretStore) -> None:
    value = "x" * (MAX_SECRET_VALUE_BYTES - 2) + "é"
    store.put(secret("big"), value)

    assert store.reveal(["big"], "exec-1") == {"big": value}
