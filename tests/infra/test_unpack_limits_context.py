"""The unpack limits' context values reach the run agent: mycli:maxUnpackedMib and
mycli:maxUploadEntries -> PlatformConfig -> the agent container's environment (the agent
passes them to the unpack step as the local runner does)."""

from __future__ import annotations

from typing import Any

import pytest
from tests.infra.conftest import synthesize

from orchestrator.agent.layout import (
    AGENT_CONTAINER,
    MAX_UNPACKED_MIB_VARIABLE,
    MAX_UPLOAD_ENTRIES_VARIABLE,
)
from stacks.config import ConfigError, PlatformConfig


def agent_limits(template: Any) -> dict[str, str]:
    for task in template.find_resources("AWS::ECS::TaskDefinition").values():
        for container in task["Properties"]["ContainerDefinitions"]:
            if container["Name"] == AGENT_CONTAINER:
                return {
                    variable["Name"]: variable["Value"]
                    for variable in container["Environment"]
                    if variable["Name"] in (MAX_UNPACKED_MIB_VARIABLE, MAX_UPLOAD_ENTRIES_VARIABLE)
                }
    raise AssertionError("no agent container")


def test_the_defaults_are_512_mib_and_100000_entries(template: Any) -> None:
    assert PlatformConfig().max_unpacked_mib == 512
    assert PlatformConfig().max_upload_entries == 100_000
    assert agent_limits(template) == {
        MAX_UNPACKED_MIB_VARIABLE: "512",
        MAX_UPLOAD_ENTRIES_VARIABLE: "100000",
    }


def test_context_values_become_the_agents_unpack_limits() -> None:
    template = synthesize(**{"mycli:maxUnpackedMib": "64", "mycli:maxUploadEntries": 500})

    assert agent_limits(template) == {
        MAX_UNPACKED_MIB_VARIABLE: "64",
        MAX_UPLOAD_ENTRIES_VARIABLE: "500",
    }


@pytest.mark.parametrize(
    ("key", "value"), [("mycli:maxUnpackedMib", 0), ("mycli:maxUploadEntries", -1)]
)
def test_a_limit_below_one_is_refused(key: str, value: int) -> None:
    with pytest.raises(ConfigError, match=key):
        PlatformConfig.from_context({key: value}.get)
