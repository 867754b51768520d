"""The agent's setup, steps 2 to 4 of a run (see docs/aws-agent.md): unseal the values,
fetch stdin, check out the git source, unpack the upload. The checkout and the unpack are
the steps the embedded runner runs (orchestrator.agent.setup), each a process in a
session of its own, stopped when the agent is told to stop. A failure is SetupFailed
with the run's one-line reason. Standard library only (boto3 in unseal, when needed)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from orchestrator.agent.fetch import FetchFailed, download
from orchestrator.agent.manifest import Manifest
from orchestrator.agent.setup import SetupStep, checkout_step, unpack_step
from orchestrator.agent.unseal import UnsealFailed, unseal
from orchestrator.agent.workspace import Workspace
from orchestrator.unpack import Limits

STEP_POLL_SECONDS = 0.1
STEP_STOP_GRACE_SECONDS = 5.0
UPLOAD_ARCHIVE = "upload.tar.gz"


class SetupFailed(Exception):
    """The run cannot start: the reason is the run's (one line, no secret in it)."""


class Stopped(Exception):
    """The agent was told to stop (SIGTERM) during setup; `exit_code` is the step's."""

    def __init__(self, exit_code: int) -> None:
        super().__init__(f"stopped during setup (exit code {exit_code})")
        self.exit_code = exit_code


@dataclass
class Prepared:
    env: dict[str, str]
    mask: list[str]
    git_commit: str | None = None
    subdir: str | None = None


def prepare(
    manifest: Manifest,
    workspace: Workspace,
    limits: Limits,
    stopping: threading.Event,
    say: Callable[[str], None],
    kms: Any | None = None,
) -> Prepared:
    """Everything before the command's inputs are written: SetupFailed, Stopped or ready."""
    workspace.prepare()
    try:
        opened = unseal(manifest, kms, lambda why: say(f"could not retire the grant: {why}"))
    except UnsealFailed as error:
        raise SetupFailed(f"cannot open the run's sealed values: {error}") from None
    prepared = Prepared(env=opened.env, mask=opened.mask)
    # The manifest's GET URLs live 10 minutes: fetch before a checkout of unbounded length
    # (a run's code is git or an upload, never both, so the upload is first in its turn).
    if manifest.stdin_url:
        size = _download("stdin", manifest.stdin_url, workspace.stdin)
        os.chmod(workspace.stdin, 0o644)
        say(f"fetched stdin ({size} byte{'' if size == 1 else 's'})")
    base_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    if manifest.git is not None:
        prepared.subdir = manifest.git.subdir

        def found(commit: str) -> None:
            prepared.git_commit = commit

        step = checkout_step(
            manifest.git,
            opened.git_credential,
            workspace.work,
            workspace.scratch / "git",
            base_env,
            found,
        )
        run_step(step, stopping)
        say(f"checked out {prepared.git_commit}")
    if manifest.upload_url:
        archive = workspace.scratch / UPLOAD_ARCHIVE
        size = _download("the upload", manifest.upload_url, archive)
        # readable by all: the command container may run as another user than the agent
        step = unpack_step(archive, workspace.work, base_env, limits, readable_by_all=True)
        run_step(step, stopping)
        archive.unlink()
        say(f"unpacked the upload ({size} byte{'' if size == 1 else 's'})")
    return prepared


def _download(what: str, url: str, target: Any) -> int:
    try:
        return download(url, target)
    except FetchFailed as error:
        raise SetupFailed(f"cannot download {what}: {error}") from None


def run_step(step: SetupStep, stopping: threading.Event) -> None:
    """Run `step` to its end: its `succeeded` with its stdout, or SetupFailed with its
    reason; Stopped (the step and what it started killed) once `stopping` is set."""
    process = subprocess.Popen(
        step.argv,
        env=step.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    while True:
        try:
            out, err = process.communicate(timeout=STEP_POLL_SECONDS)
            break
        except subprocess.TimeoutExpired:
            if stopping.is_set():
                raise Stopped(_stop(process)) from None
    _kill_group(process.pid)  # what the step left running
    if process.returncode != 0:
        code = _exit_code(process.returncode)
        raise SetupFailed(step.reason(err.decode(errors="replace"), code))
    step.succeeded(out.decode(errors="replace"))


def _stop(process: subprocess.Popen[bytes]) -> int:
    _signal_group(process.pid, signal.SIGTERM)
    try:
        process.communicate(timeout=STEP_STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        _kill_group(process.pid)
        process.communicate()
    _kill_group(process.pid)
    return _exit_code(process.returncode)


def _exit_code(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def _kill_group(pid: int) -> None:
    _signal_group(pid, signal.SIGKILL)


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)
