"""What the template's container images mean on this host.

- The run agent's container (named `agent`; its image a CDK asset built from this repository)
  → this host's venv Python running `-m orchestrator.agent` with lambda_src on PYTHONPATH:
  the venv's bin directory comes first on PATH (so a definition's `python3 ...` command is
  the venv's), and the image's CMD is `python -m orchestrator.agent`.
- Every other image (the executor image, a registered image) → the host: its `sh` and
  binaries (the stand-in gives `/mycli` through a mount namespace)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from twin.ecs.images import DEFAULT_PATH, ImageMapper, ImageRuntime, images_by_repository
from twin.template import ROOT

AGENT_CONTAINER = "agent"
LAMBDA_SRC = ROOT / "lambda_src"


def agent_runtime(python: Path = Path(sys.executable)) -> ImageRuntime:
    """The agent's image on this host."""
    host_path = os.environ.get("PATH") or DEFAULT_PATH
    return ImageRuntime(
        command=(str(python), "-m", "orchestrator.agent"),
        environment={
            "PATH": f"{python.parent}{os.pathsep}{host_path}",
            "PYTHONPATH": str(LAMBDA_SRC),
            "PYTHONUNBUFFERED": "1",
        },
    )


def runtime_for_container(container: Mapping[str, Any]) -> ImageRuntime | None:
    """The seam: a task definition's container (DescribeTaskDefinition's shape) → the image
    runtime the twin gives its image, or None for the default (the host)."""
    if container.get("name") == AGENT_CONTAINER:
        return agent_runtime()
    return None


def image_mapper(task_definitions: Iterable[Mapping[str, Any]]) -> ImageMapper:
    """A mapper for the images of these task definitions (their containers, by image)."""
    runtimes: dict[str, ImageRuntime] = {}
    for definition in task_definitions:
        for container in definition.get("containerDefinitions") or []:
            runtime = runtime_for_container(container)
            if runtime is not None:
                runtimes[str(container["image"])] = runtime
    return images_by_repository(runtimes)
