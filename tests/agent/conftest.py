"""The run agent's integration world: see agent_world.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from agent_world import AgentWorld

from twin.s3_front import policy_front


@pytest.fixture
def agents(output_bucket: str, moto_server: str, tmp_path: Path) -> Iterator[AgentWorld]:
    with policy_front(moto_server) as (front, policy):
        yield AgentWorld(tmp_path, moto_server, front, policy)
