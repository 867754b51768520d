"""Fixtures for the api layer."""

from __future__ import annotations

import pytest

from api_harness import ApiHarness
from orchestrator.domain.models import Role
from orchestrator.local.platform import LocalPlatform


@pytest.fixture
def api(platform: LocalPlatform) -> ApiHarness:
    users = platform.services.users
    return ApiHarness(
        services=platform.services,
        admin_key=users.issue_key("admin@example.com", Role.ADMIN).api_key,
        alice_key=users.issue_key("alice@example.com", Role.USER).api_key,
        bob_key=users.issue_key("bob@example.com", Role.USER).api_key,
    )
