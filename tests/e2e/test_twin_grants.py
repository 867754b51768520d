"""A run's KMS grant on the Fargate twin: a run with an env value, cancelled before its agent
could unseal it (and so retire the grant), ends CANCELLED with its grant gone from the key
(listed through the twin's moto endpoint).

On Fargate a cancel before the unseal is a cancel while the task is still starting (pulling
its images: seconds); the twin starts tasks in milliseconds, so the test freezes the agent
(SIGSTOP) as soon as it exists, cancels, and kills it as ECS does after the stop timeout.

Twin only: grants are AWS's (the embedded platform seals nothing); tests/aws/
test_run_grants.py has the other ends of a run (failed launch, task event, reaper, sweep)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest

from deployment import LocalDeployment
from twin_deployment import TwinDeployment, agent_pids

pytestmark = pytest.mark.twin_only("KMS grants are AWS's (the embedded platform seals nothing)")

WAIT_SECONDS = 30.0


def test_a_run_cancelled_before_its_agent_unsealed_leaves_no_grant(
    deployment: LocalDeployment,
) -> None:
    assert isinstance(deployment, TwinDeployment)
    twin, key = deployment, deployment.admin_key
    # Given a run with an env value whose agent is held before it could unseal it
    status, created = twin.api(
        "POST", "/executions", key, body={"command": "sleep 30", "env": {"TOKEN": "t0k3n"}}
    )
    assert status == 202, created
    execution_id = created["execution_id"]
    agent: list[int] = []
    wait_until(lambda: bool(agent.extend(agent_pids(twin, execution_id)) or agent), "no agent")
    signal_all(agent, signal.SIGSTOP)
    assert len(twin.grants_of(execution_id)) == 1  # made by the create function, not retired

    # When it is cancelled, and its task stopped (the held agent killed, as ECS would)
    status, _ = twin.api("POST", f"/executions/{execution_id}/cancel", key)
    assert status == 202
    signal_all(agent, signal.SIGKILL)

    # Then it ends CANCELLED, and the server has revoked its grant
    def shown() -> dict[str, Any]:
        status, execution = twin.api("GET", f"/executions/{execution_id}", key)
        assert status == 200, execution
        return dict(execution)

    wait_until(lambda: shown()["status"] == "CANCELLED", "not CANCELLED")
    wait_until(lambda: twin.grants_of(execution_id) == [], "its grant is still there")
    assert "grant_id" not in shown()


def signal_all(pids: list[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def wait_until(condition: Callable[[], bool], why: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, why
        time.sleep(0.01)
