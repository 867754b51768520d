"""The steps that set a run up before its command, in order: the git checkout
(orchestrator.git_checkout) and the upload's unpack (orchestrator.unpack, the same script
the AWS task's unpack container runs). Each is a process of the run, started in its place
and tracked, timed and cancelled like the command; its output never reaches the run's log.
A step that fails ends the run FAILED with the one-line reason it printed; the command
then never runs."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator import unpack
from orchestrator.adapters.local.processes import exit_code_of
from orchestrator.adapters.local.tracking import Ended, Run, RunTracking
from orchestrator.domain.models import LaunchSpec
from orchestrator.git_checkout import CHECKOUT_SCRIPT, REASON_PREFIX, commit_of, reason_of
from orchestrator.unpack import REASON_BY_EXIT_CODE, Limits

UPLOAD_REFUSED = "upload refused: "


def _nothing(stdout: str) -> None:
    return None


@dataclass(frozen=True)
class SetupStep:
    """A process to run before the command: `reason` says why it failed from its stderr
    and exit code; `succeeded` takes its stdout when it did not."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(repr=False)
    reason: Callable[[str, int], str]
    succeeded: Callable[[str], None] = _nothing


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
        steps.append(checkout_step(spec, workdir, scratch, base_env, on_commit))
    if spec.upload_location:
        steps.append(unpack_step(Path(spec.upload_location), workdir, base_env, limits))
    return steps


def checkout_step(
    spec: LaunchSpec,
    workdir: Path,
    scratch: Path,
    base_env: dict[str, str],
    on_commit: Callable[[str], None],
) -> SetupStep:
    """The checkout script with its inputs in the environment (see orchestrator.git_checkout)."""
    assert spec.git is not None
    env = {
        **base_env,
        "MYCLI_GIT_URL": spec.git.url,
        "MYCLI_GIT_REF": spec.git.ref or "",
        "MYCLI_GIT_SUBDIR": spec.git.subdir or "",
        "MYCLI_GIT_TARGET": str(workdir),
        "MYCLI_GIT_SCRATCH": str(scratch),
    }
    if spec.git.credential:
        env["MYCLI_GIT_CREDENTIAL"] = spec.git.credential

    def commit_found(stdout: str) -> None:
        commit = commit_of(stdout)
        if commit is not None:
            on_commit(commit)

    return SetupStep("checkout", ["sh", "-c", CHECKOUT_SCRIPT], env, reason_of, commit_found)


def unpack_step(
    archive: Path, workdir: Path, base_env: dict[str, str], limits: Limits
) -> SetupStep:
    """`python -I unpack.py ARCHIVE WORKDIR --max-unpacked-mib N --max-entries N`: isolated
    (no PYTHON* variables, no user site, neither the script's nor the working directory on
    sys.path, so nothing the archive unpacks can be imported)."""
    argv = [sys.executable, "-I", unpack.__file__, str(archive), str(workdir), *limits.arguments()]
    return SetupStep("unpack", argv, dict(base_env), unpack_reason)


def unpack_reason(stderr: str, exit_code: int) -> str:
    """Why the unpack failed: its last `mycli: ` line, else what its exit code means."""
    lines = [
        line[len(REASON_PREFIX) :].strip()
        for line in stderr.splitlines()
        if line.startswith(REASON_PREFIX)
    ]
    if lines and lines[-1]:
        return lines[-1]
    known = REASON_BY_EXIT_CODE.get(exit_code)
    return UPLOAD_REFUSED + (known or f"the unpack step exited with code {exit_code}")


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
