"""One synthesis per test session (template assertions), with cdk.json's context."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def synthesize(**overrides: Any) -> Any:
    """The stack's template with cdk.json's context, plus `overrides`."""
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from app import STACK_NAME
    from stacks.platform_stack import MycliStack

    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    app = cdk.App(
        context={**context, "aws:cdk:bundling-stacks": [], **overrides},
        builtin_cloud_formation_validation=False,
    )
    return Template.from_stack(MycliStack(app, STACK_NAME))


@pytest.fixture(scope="session")
def template() -> Any:
    return synthesize()


@pytest.fixture(scope="session")
def redeployed() -> dict[str, Any]:
    """A deployment that reattaches retained data and asks for the API logging role."""
    resources: dict[str, Any] = synthesize(
        **{
            "mycli:existingApiKeysTable": "Mycli-DataApiKeys-OLD1",
            "mycli:existingExecutionsTable": "Mycli-DataExecutions-OLD2",
            "mycli:existingLocksTable": "Mycli-DataLocks-OLD3",
            "mycli:existingCodeBucket": "mycli-databucket-old4",
            "mycli:existingExecutionLogGroup": "Mycli-ExecutorExecutionLogs-OLD5",
            "mycli:existingImagesTable": "Mycli-DataImages-OLD6",
            "mycli:existingLockQueueTable": "Mycli-DataLockQueue-OLD7",
            "mycli:existingWarmTasksTable": "Mycli-DataWarmTasks-OLD8",
            "mycli:apiLogging": "create-role",
        }
    ).to_json()["Resources"]
    return resources


@pytest.fixture(scope="session")
def resources(template: Any) -> dict[str, Any]:
    resources: dict[str, Any] = template.to_json()["Resources"]
    return resources
