"""Fixtures for the e2e layer, on one of two backends: `embedded` (`mycli local up`, the
default) or `twin` (the Fargate twin, `./scripts/aws-twin up`), chosen with
`pytest --backend twin` or MYCLI_E2E_BACKEND=twin.

On the twin, a test that cannot mean the same thing is skipped with its reason, never
silently: mark it `@pytest.mark.embedded_only("why")`; a test that builds its own embedded
deployment instead of taking the `deployment` fixture is skipped saying so. A test that
means something only on the twin (its fault cases) is marked `twin_only("why")`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from deployment import LocalDeployment
from twin_deployment import TwinDeployment

BACKENDS = ("embedded", "twin")


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> str:
    chosen: str = request.config.getoption("backend")
    return chosen


@pytest.fixture
def deployment(tmp_path: Path, backend: str) -> Iterator[LocalDeployment]:
    running = TwinDeployment(tmp_path) if backend == "twin" else LocalDeployment(tmp_path)
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
        elif "deployment" not in getattr(item, "fixturenames", ()):
            item.add_marker(
                pytest.mark.skip(
                    reason="not on the twin: this test builds its own embedded deployment "
                    "(LocalDeployment/running_deployment) instead of the `deployment` fixture"
                )
            )
