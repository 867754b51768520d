"""Fixtures for the e2e layer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from deployment import LocalDeployment


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[LocalDeployment]:
    local = LocalDeployment(tmp_path)
    local.up()
    yield local
    local.down()
