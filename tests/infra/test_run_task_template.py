"""The run's task definition in the template (issue 18): the run agent (essential, an
image CDK builds from this repository's Dockerfile) and the command (not essential, the
executor image, started once the agent has), nothing from Docker Hub, every image pinned
by digest or an asset, awslogs in blocking mode, nothing secret anywhere in it. And the
agent's Dockerfile passes hadolint."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from test_template import of_type, run_task
from tests.infra.conftest import ROOT, synthesize

from orchestrator.agent.layout import (
    AGENT_CONTAINER,
    COMMAND_CONTAINER,
    WORKSPACE,
)
from stacks.config import ConfigError, PlatformConfig
from stacks.run_task import AGENT_DOCKERFILE, AGENT_IMAGE_DIRECTORY, COMMAND_ENTRY

Resources = dict[str, Any]
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
ASSET_IMAGE = re.compile(
    r"/cdk-[a-z0-9]+-container-assets-\$\{AWS::AccountId\}-\$\{AWS::Region\}:[0-9a-f]{64}$"
)


def containers(resources: Resources) -> dict[str, dict[str, Any]]:
    return {c["Name"]: c for c in run_task(resources)["ContainerDefinitions"]}


def test_one_task_definition_with_the_agent_and_the_command_and_nothing_else(
    resources: Resources,
) -> None:
    assert len(of_type(resources, "AWS::ECS::TaskDefinition")) == 1
    assert sorted(containers(resources)) == sorted([AGENT_CONTAINER, COMMAND_CONTAINER])


def test_the_agent_is_essential_runs_an_asset_image_and_has_time_to_report(
    resources: Resources,
) -> None:
    agent = containers(resources)[AGENT_CONTAINER]

    assert agent["Essential"] is True
    assert ASSET_IMAGE.search(agent["Image"]["Fn::Sub"]), agent["Image"]
    assert agent["StopTimeout"] == 30
    assert "Command" not in agent and "EntryPoint" not in agent  # the image's own entry
    assert {v["Name"]: v["Value"] for v in agent["Environment"]}["MYCLI_WORKSPACE"] == WORKSPACE
    assert "DependsOn" not in agent


def test_the_command_waits_for_the_agents_start_and_runs_the_entry_script(
    resources: Resources,
) -> None:
    command = containers(resources)[COMMAND_CONTAINER]

    assert command["Essential"] is False
    assert command["DependsOn"] == [{"ContainerName": AGENT_CONTAINER, "Condition": "START"}]
    # Its own entry point: an image's ENTRYPOINT (e.g. ["aws"]) never gets the entry as args.
    assert command["EntryPoint"] == ["sh", "-c"]
    assert command["Command"] == [COMMAND_ENTRY.read_text()]
    assert command["Image"] == PlatformConfig().executor_image
    assert "Environment" not in command and "Secrets" not in command


def test_both_share_the_workspace_and_log_in_blocking_mode(resources: Resources) -> None:
    assert run_task(resources)["Volumes"] == [{"Name": "workspace"}]
    for container in containers(resources).values():
        assert container["MountPoints"] == [
            {"ContainerPath": WORKSPACE, "SourceVolume": "workspace", "ReadOnly": False}
        ]
        logging = container["LogConfiguration"]
        assert logging["LogDriver"] == "awslogs"
        assert logging["Options"]["mode"] == "blocking"
        assert logging["Options"]["awslogs-stream-prefix"] == "exec"


def test_no_image_comes_from_docker_hub_and_every_image_is_pinned_or_an_asset(
    resources: Resources,
) -> None:
    images = [c["Image"] for c in containers(resources).values()]
    for image in images:
        if isinstance(image, str):
            assert DIGEST.search(image), image
            assert image.startswith("public.ecr.aws/"), image
        else:
            assert ASSET_IMAGE.search(image["Fn::Sub"]), image
    text = json.dumps(resources)
    assert "docker.io" not in text and "alpine/git" not in text and "aws-cli" not in text
    base = (AGENT_IMAGE_DIRECTORY / AGENT_DOCKERFILE).read_text()
    [from_line] = [line for line in base.splitlines() if line.startswith("FROM ")]
    assert from_line.startswith("FROM public.ecr.aws/") and DIGEST.search(from_line)


def test_an_executor_image_without_a_digest_is_refused() -> None:
    with pytest.raises(ConfigError, match="mycli:executorImage must be pinned by digest"):
        PlatformConfig.from_context({"mycli:executorImage": "alpine:3.20"}.get)


def test_a_pinned_executor_image_of_the_deployers_choice_reaches_the_command() -> None:
    image = "public.ecr.aws/docker/library/busybox:1.36@sha256:" + "a" * 64
    template = synthesize(**{"mycli:executorImage": image}).to_json()["Resources"]
    assert containers(template)[COMMAND_CONTAINER]["Image"] == image


def test_the_lambda_code_leaves_the_agent_image_out(resources: Resources) -> None:
    from orchestrator.handlers.catalog import ASSET_EXCLUDES

    assert "agent_image" in ASSET_EXCLUDES
    assert (AGENT_IMAGE_DIRECTORY / "agent_image" / "requirements.txt").is_file()


def test_the_agents_requirements_are_pinned_with_hashes() -> None:
    text = (AGENT_IMAGE_DIRECTORY / "agent_image" / "requirements.txt").read_text()
    pins = [line for line in text.splitlines() if line and line[0].isalpha()]
    assert any(line.startswith("boto3==") for line in pins)
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+==[A-Za-z0-9_.]+ \\", line) for line in pins), pins
    assert "--require-hashes" in (AGENT_IMAGE_DIRECTORY / AGENT_DOCKERFILE).read_text()


def test_the_agents_dockerfile_passes_hadolint(tmp_path: Path) -> None:
    hadolint = shutil.which("hadolint") or str(Path(ROOT / ".venv/bin/hadolint"))
    dockerfile = AGENT_IMAGE_DIRECTORY / AGENT_DOCKERFILE
    result = subprocess.run(
        [hadolint, "--no-color", str(dockerfile)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # ...and hadolint does fail on a lint error (so the check above can fail).
    broken = tmp_path / "Dockerfile"
    broken.write_text(dockerfile.read_text().replace("--no-install-recommends ", ""))
    failed = subprocess.run(
        [hadolint, "--no-color", str(broken)], capture_output=True, text=True, check=False
    )
    assert failed.returncode != 0 and "DL3015" in failed.stdout
