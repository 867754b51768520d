"""The unpack limits' context values reach the task's unpack step: mycli:maxUnpackedMib and
mycli:maxUploadEntries -> PlatformConfig -> the unpack container's command line, the same
options the local runner passes to the same script."""

from __future__ import annotations

from typing import Any

import pytest
from tests.infra.conftest import synthesize

from orchestrator.unpack import Limits
from stacks.config import ConfigError, PlatformConfig


def unpack_command(template: Any) -> list[str]:
    for task in template.find_resources("AWS::ECS::TaskDefinition").values():
        for container in task["Properties"]["ContainerDefinitions"]:
            if container["Name"] == "unpack":
                command: list[str] = container["Command"]
                return command
    raise AssertionError("no unpack container")


def test_the_defaults_are_512_mib_and_100000_entries(template: Any) -> None:
    assert PlatformConfig().max_unpacked_mib == 512
    assert PlatformConfig().max_upload_entries == 100_000
    assert unpack_command(template) == [
        "/mycli/upload.tar.gz",
        "/mycli/work",
        *("--max-unpacked-mib", "512", "--max-entries", "100000"),
    ]
    assert unpack_command(template)[2:] == Limits().arguments()


def test_context_values_become_the_unpack_steps_limits() -> None:
    template = synthesize(**{"mycli:maxUnpackedMib": "64", "mycli:maxUploadEntries": 500})

    assert unpack_command(template)[2:] == Limits(64, 500).arguments()


@pytest.mark.parametrize(
    ("key", "value"), [("mycli:maxUnpackedMib", 0), ("mycli:maxUploadEntries", -1)]
)
def test_a_limit_below_one_is_refused(key: str, value: int) -> None:
    with pytest.raises(ConfigError, match=key):
        PlatformConfig.from_context({key: value}.get)
