"""The embedded runner's setup steps: which of the shared steps a run needs
(orchestrator.agent.setup: the git checkout, the upload's unpack, exactly as the AWS run
agent runs them), each a process of the run, started in its place and tracked, timed and
cancelled like the command; its output never reaches the run's log. A step that fails
ends the run FAILED with the one-line reason it printed; the command then never runs."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from orchestrator.adapters.local.processes import exit_code_of
from orchestrator.adapters.local.tracking import Ended, Run, RunTracking
from orchestrator.agent.setup import SetupStep, checkout_step, unpack_step
from orchestrator.domain.models import LaunchSpec
from orchestrator.unpack import Limits


def setup_steps(
    spec: LaunchSpec,
    workdir: Path,
    scratch: Path,
    base_env: dict[str, str],
    limits: Limits,
    on_commit: Callable[[str], None],
) -> list[SetupStep]:
    """The run's steps: its checkout if it has a git source, its unpack if it has an
    upload. `base_env` is PATH, LANG and the run's marker."""
    steps = []
    if spec.git is not None:
        steps.append(
            checkout_step(spec.git, spec.git.credential, workdir, scratch, base_env, on_commit)
        )
    if spec.upload_location:
        steps.append(unpack_step(Path(spec.upload_location), workdir, base_env, limits))
    return steps


def finish_step(step: SetupStep, run: Run, tracking: RunTracking, deadline: float) -> Ended | None:
    """Wait for the run's current process, the setup step (its output kept, never logged):
    None when it succeeded, else how the run ended (failed with the reason, cancelled,
    timed out). Whatever the step left running is killed either way."""
    process = run.process
    timed_out = False
    try:
        out, err = process.communicate(timeout=max(deadline - time.monotonic(), 0.001))
    except subprocess.TimeoutExpired:
        timed_out = True
        tracking.stop(run)
        out, err = process.communicate()
    tracking.kill(run)
    if timed_out or run.stop_requested.is_set():
        return Ended(exit_code_of(process.returncode), timed_out=timed_out)
    if process.returncode != 0:
        text = err.decode(errors="replace")
        return Ended(reason=step.reason(text, exit_code_of(process.returncode)))
    step.succeeded(out.decode(errors="replace"))
    return None
