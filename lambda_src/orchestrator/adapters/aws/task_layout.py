"""Where an AWS run's pieces live, shared by the create function, the task-event parser and
the CDK stack, so names cannot drift apart. The task itself (the run agent and the command
container, their shared files and the agent's result) is orchestrator.agent.layout.

In the CodeBucket, under runs/<execution id>/: the run's manifest (MANIFEST_NAME, read by
the agent through a presigned GET) and its output (orchestrator.output_segments, written by
the agent through a presigned POST), with the agent's result beside the segments. Users'
uploads live under uploads/.

ECS accepts at most 8,192 characters of container overrides, so commands and env values
travel in the manifest, never in the overrides, which hold only the execution id and the
manifest's URL."""

from __future__ import annotations

import json
from typing import Any

UPLOADS_PREFIX = "uploads/"
RUNS_PREFIX = "runs/"
MANIFEST_NAME = "manifest.json"
# KMS encrypts at most 4 KB directly: larger sealed values are sealed in pieces of this size.
MAX_SEALED_CHUNK_BYTES = 4096
# ECS refuses container overrides longer than this (JSON formatting included).
MAX_OVERRIDES_CHARS = 8192


def manifest_key(execution_id: str) -> str:
    return f"{RUNS_PREFIX}{execution_id}/{MANIFEST_NAME}"


def overrides_size(container_overrides: list[dict[str, Any]]) -> int:
    """How many characters ECS counts for these overrides (their JSON, spaces included:
    a little more than ECS's own count, never less)."""
    return len(json.dumps({"containerOverrides": container_overrides}))
