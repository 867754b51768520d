"""The prepared task's `clone` container runs exactly the checkout script the embedded
runner runs (orchestrator.git_checkout), so the rule that a git credential goes only to the
URL named, never along a redirect, holds on AWS too."""

from __future__ import annotations

from typing import Any

from orchestrator.agent.scripts import CHECKOUT_SCRIPT_PATH

CHECKOUT_SCRIPT = CHECKOUT_SCRIPT_PATH.read_text()  # the program the checkout runs


def test_the_clone_container_runs_the_same_checkout_script_as_the_embedded_runner(
    resources: dict[str, Any],
) -> None:
    [clone] = [
        container
        for resource in resources.values()
        if resource["Type"] == "AWS::ECS::TaskDefinition"
        for container in resource["Properties"]["ContainerDefinitions"]
        if container["Name"] == "clone"
    ]

    assert clone["EntryPoint"] == ["sh", "-c"]
    assert clone["Command"] == [
        CHECKOUT_SCRIPT,
        "clone",
        "/mycli/git",
        "/mycli/work",
        "/mycli/git-scratch",
    ]
    assert "GIT_CONFIG_KEY_1=http.followRedirects GIT_CONFIG_VALUE_1=false" in CHECKOUT_SCRIPT
    assert "Environment" not in clone
