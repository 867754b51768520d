"""Fixtures for the twin's ECS stand-in: one stand-in per test, closed (every process
stopped) at the end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from twin.ecs import EcsStandIn
from twin_ecs import Events, new_standin


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture
def standin(tmp_path: Path, events: Events) -> Iterator[EcsStandIn]:
    ecs = new_standin(tmp_path / "tasks", events)
    yield ecs
    ecs.close(timeout=5)
