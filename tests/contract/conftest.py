"""Every adapter of a port runs the same suite: in-memory fakes, SQLite and local files,
and the AWS adapters against moto. Add a backend by adding a factory here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from fake_lock_history import InMemoryLockHistory
from fake_lock_queue import InMemoryLockQueue
from fake_warm_pool import InMemoryWarmPool
from fakes import (
    InMemoryApiKeyStore,
    InMemoryExecutionStore,
    InMemoryImageStore,
    InMemoryLockStore,
)
from moto_aws import REGION
from orchestrator.adapters.aws.dynamodb import (
    DynamoApiKeyStore,
    DynamoExecutionStore,
    DynamoLockStore,
)
from orchestrator.adapters.aws.dynamodb_lock_history import DynamoLockHistory
from orchestrator.adapters.aws.dynamodb_lock_queue import DynamoLockQueue
from orchestrator.adapters.aws.dynamodb_warm_pool import DynamoWarmPool
from orchestrator.adapters.aws.images import DynamoImageStore
from orchestrator.adapters.local.database import Database
from orchestrator.adapters.local.images import SqliteImageStore
from orchestrator.adapters.local.lock_history import SqliteLockHistory
from orchestrator.adapters.local.lock_queue import SqliteLockQueue
from orchestrator.adapters.local.stores import (
    SqliteApiKeyStore,
    SqliteExecutionStore,
    SqliteLockStore,
)

StoreFactory = Callable[[pytest.FixtureRequest, Path], Any]


def _memory_queue() -> tuple[Any, Any]:
    locks = InMemoryLockStore()
    return InMemoryLockQueue(locks), locks


def _sqlite_queue(tmp: Path) -> tuple[Any, Any]:
    db = _sqlite(tmp)
    return SqliteLockQueue(db), SqliteLockStore(db)


def _dynamodb_queue(request: pytest.FixtureRequest) -> tuple[Any, Any]:
    settings, client = _dynamodb(request)
    return (
        DynamoLockQueue(client, settings.lock_queue_table, settings.locks_table),
        DynamoLockStore(client, settings.locks_table),
    )


def _dynamodb(request: pytest.FixtureRequest) -> Any:
    settings = request.getfixturevalue("aws")
    return settings, boto3.client("dynamodb", region_name=REGION)


def _sqlite(tmp: Path) -> Database:
    return Database(tmp / "contract.db")


EXECUTION_STORES: dict[str, StoreFactory] = {
    "memory": lambda request, tmp: InMemoryExecutionStore(),
    "sqlite": lambda request, tmp: SqliteExecutionStore(_sqlite(tmp)),
    "dynamodb": lambda request, tmp: DynamoExecutionStore(
        _dynamodb(request)[1], _dynamodb(request)[0].executions_table
    ),
}
LOCK_STORES: dict[str, StoreFactory] = {
    "memory": lambda request, tmp: InMemoryLockStore(),
    "sqlite": lambda request, tmp: SqliteLockStore(_sqlite(tmp)),
    "dynamodb": lambda request, tmp: DynamoLockStore(
        _dynamodb(request)[1], _dynamodb(request)[0].locks_table
    ),
}
KEY_STORES: dict[str, StoreFactory] = {
    "memory": lambda request, tmp: InMemoryApiKeyStore(),
    "sqlite": lambda request, tmp: SqliteApiKeyStore(_sqlite(tmp)),
    "dynamodb": lambda request, tmp: DynamoApiKeyStore(
        _dynamodb(request)[1], _dynamodb(request)[0].api_keys_table
    ),
}


@pytest.fixture(params=sorted(EXECUTION_STORES))
def execution_store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    return EXECUTION_STORES[request.param](request, tmp_path)


@pytest.fixture(params=sorted(LOCK_STORES))
def lock_store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    return LOCK_STORES[request.param](request, tmp_path)


@pytest.fixture(params=sorted(KEY_STORES))
def key_store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    return KEY_STORES[request.param](request, tmp_path)


IMAGE_STORES: dict[str, StoreFactory] = {
    "memory": lambda request, tmp: InMemoryImageStore(),
    "sqlite": lambda request, tmp: SqliteImageStore(_sqlite(tmp)),
    "dynamodb": lambda request, tmp: DynamoImageStore(
        _dynamodb(request)[1], _dynamodb(request)[0].images_table
    ),
}


@pytest.fixture(params=sorted(IMAGE_STORES))
def image_store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    return IMAGE_STORES[request.param](request, tmp_path)


LOCK_QUEUES: dict[str, StoreFactory] = {
    "memory": lambda request, tmp: _memory_queue(),
    "sqlite": lambda request, tmp: _sqlite_queue(tmp),
    "dynamodb": lambda request, tmp: _dynamodb_queue(request),
}


@pytest.fixture(params=sorted(LOCK_QUEUES))
def queue_and_locks(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A LockQueue and the LockStore it promotes into."""
    return LOCK_QUEUES[request.param](request, tmp_path)


LOCK_HISTORIES: dict[str, StoreFactory] = {
    "memory": lambda request, tmp: InMemoryLockHistory(),
    "sqlite": lambda request, tmp: SqliteLockHistory(_sqlite(tmp)),
    "dynamodb": lambda request, tmp: DynamoLockHistory(
        _dynamodb(request)[1], _dynamodb(request)[0].lock_queue_table
    ),
}


@pytest.fixture(params=sorted(LOCK_HISTORIES))
def lock_history(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    return LOCK_HISTORIES[request.param](request, tmp_path)


# Warm pools are kept on AWS only: the embedded platform has no SQLite adapter.
WARM_POOLS: dict[str, StoreFactory] = {
    "memory": lambda request, tmp: InMemoryWarmPool(),
    "dynamodb": lambda request, tmp: DynamoWarmPool(
        _dynamodb(request)[1], _dynamodb(request)[0].warm_tasks_table
    ),
}


@pytest.fixture(params=sorted(WARM_POOLS))
def warm_pool(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    return WARM_POOLS[request.param](request, tmp_path)
