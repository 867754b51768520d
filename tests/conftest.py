"""Fixtures shared by every layer of the suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.local.platform import LocalPlatform, LocalSettings
from support import FakeWorld


@pytest.fixture
def world() -> FakeWorld:
    return FakeWorld()


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[LocalPlatform]:
    """The real embedded platform (SQLite, processes, log files) in a temporary directory."""
    local = LocalPlatform(LocalSettings(data_dir=tmp_path / "data", kill_grace_seconds=1.0))
    yield local
    local.shutdown()
