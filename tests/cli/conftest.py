"""Fixtures for the cli layer: a real local server on a loopback port, in this process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli_harness import CliHarness
from orchestrator.domain.models import Role
from orchestrator.local.platform import LocalPlatform
from orchestrator.local.server import LocalApiServer


@pytest.fixture
def harness(platform: LocalPlatform, tmp_path: Path) -> Iterator[CliHarness]:
    server = LocalApiServer(platform.services, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    users = platform.services.users
    yield CliHarness(
        url=server.url,
        admin_key=users.issue_key("admin@example.com", Role.ADMIN).api_key,
        user_key=users.issue_key("user@example.com", Role.USER).api_key,
        config_home=tmp_path / "config",
        platform=platform,
    )
    server.shutdown()
