"""Every adapter of a port runs the same suite. Add a backend by adding a factory here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fakes import InMemoryApiKeyStore, InMemoryExecutionStore, InMemoryLockStore
from orchestrator.adapters.local.database import Database
from orchestrator.adapters.local.stores import (
    SqliteApiKeyStore,
    SqliteExecutionStore,
    SqliteLockStore,
)

StoreFactory = Callable[[Path], Any]

EXECUTION_STORES: dict[str, StoreFactory] = {
    "memory": lambda _: InMemoryExecutionStore(),
    "sqlite": lambda tmp: SqliteExecutionStore(Database(tmp / "contract.db")),
}
LOCK_STORES: dict[str, StoreFactory] = {
    "memory": lambda _: InMemoryLockStore(),
    "sqlite": lambda tmp: SqliteLockStore(Database(tmp / "contract.db")),
}
KEY_STORES: dict[str, StoreFactory] = {
    "memory": lambda _: InMemoryApiKeyStore(),
    "sqlite": lambda tmp: SqliteApiKeyStore(Database(tmp / "contract.db")),
}


@pytest.fixture(params=sorted(EXECUTION_STORES))
def execution_store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    return EXECUTION_STORES[request.param](tmp_path)


@pytest.fixture(params=sorted(LOCK_STORES))
def lock_store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    return LOCK_STORES[request.param](tmp_path)


@pytest.fixture(params=sorted(KEY_STORES))
def key_store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    return KEY_STORES[request.param](tmp_path)
