"""Fixtures for the e2e layer, on one of two backends: `embedded` (`mycli local up`, the
default) or `twin` (the Fargate twin, `./scripts/aws-twin up`), chosen with
`pytest --backend twin` or MYCLI_E2E_BACKEND=twin.

Every deployment comes from `deployment` (a fresh one per test: on the twin, one twin per
worker, reset before each test by `aws-twin reset`), `new_deployment` or
`running_deployment` (module-scoped ones, `mycli local up`'s tunables mapped to the stack's
context on the twin), so a test runs on either backend as written. A test whose behaviour
cannot be the same on AWS is marked `@pytest.mark.embedded_only("why")`: the twin run
skips it, saying why. `@pytest.mark.both_backends` marks the selection CI runs on the twin
too (`-m both_backends`): one proof per backend of each behaviour issue 18 lists. A test
that means something only on the twin (its fault cases) is marked `twin_only("why")`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from deployment import BACKEND_VARIABLE, LocalDeployment, new_deployment
from twin_deployment import TwinDeployment

BACKENDS = ("embedded", "twin")


def pytest_configure(config: pytest.Config) -> None:
    # new_deployment (and so module-scoped fixtures) reads the backend from the environment.
    os.environ[BACKEND_VARIABLE] = config.getoption("backend")


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> str:
    chosen: str = request.config.getoption("backend")
    return chosen


@pytest.fixture(scope="session")
def shared_twin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwinDeployment]:
    """This worker's twin, not up yet; down at the end of the session."""
    twin = TwinDeployment(tmp_path_factory.mktemp("twin"))
    yield twin
    twin.down()


@pytest.fixture
def deployment(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> Iterator[LocalDeployment]:
    if backend == "twin":
        # A fresh deployment as far as a test can tell: the worker's twin emptied (every
        # task stopped, every record, key, secret and output deleted) with a new admin key.
        twin: TwinDeployment = request.getfixturevalue("shared_twin")
        if not twin.reset():
            twin.down()
            twin.up()
        yield twin
        return
    running = new_deployment(tmp_path)
    running.up()
    yield running
    running.down()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("backend") != "twin":
        for item in items:
            marker = item.get_closest_marker("twin_only")
            if marker is not None:
                reason = marker.args[0] if marker.args else "the Fargate twin only"
                item.add_marker(pytest.mark.skip(reason=f"only on the twin: {reason}"))
        return
    for item in items:
        if "e2e" not in item.nodeid.split("::")[0].split("/"):
            continue
        marker = item.get_closest_marker("embedded_only")
        if marker is not None:
            reason = marker.args[0] if marker.args else "the embedded platform only"
            item.add_marker(pytest.mark.skip(reason=f"not on the twin: {reason}"))
