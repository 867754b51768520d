"""The steps that set a run up before its command, in order, on either host: the git
checkout (checkout.sh, see orchestrator.git_checkout) and the upload's unpack
(orchestrator.unpack, in an isolated interpreter). A step is a process: its output never
reaches the run's log; a step that fails ends the run FAILED with the one-line reason it
printed, and the command never runs. How a step is started, timed and stopped is the
host's (adapters/local/setup_steps.py, orchestrator/agent/run.py). Standard library only."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from orchestrator import unpack
from orchestrator.agent.scripts import checkout_script
from orchestrator.git_checkout import REASON_PREFIX, commit_of, reason_of
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


class GitSourceFields(Protocol):
    """A run's git source, as either host holds it."""

    @property
    def url(self) -> str: ...
    @property
    def ref(self) -> str | None: ...
    @property
    def subdir(self) -> str | None: ...


def checkout_step(
    git: GitSourceFields,
    credential: str | None,
    workdir: Path,
    scratch: Path,
    base_env: dict[str, str],
    on_commit: Callable[[str], None],
) -> SetupStep:
    """The checkout script with its inputs in the environment (see orchestrator.git_checkout):
    `workdir` gets the checkout, `scratch` git's private HOME and any key."""
    env = {
        **base_env,
        "MYCLI_GIT_URL": git.url,
        "MYCLI_GIT_REF": git.ref or "",
        "MYCLI_GIT_SUBDIR": git.subdir or "",
        "MYCLI_GIT_TARGET": str(workdir),
        "MYCLI_GIT_SCRATCH": str(scratch),
    }
    if credential:
        env["MYCLI_GIT_CREDENTIAL"] = credential

    def commit_found(stdout: str) -> None:
        commit = commit_of(stdout)
        if commit is not None:
            on_commit(commit)

    return SetupStep("checkout", ["sh", "-c", checkout_script()], env, reason_of, commit_found)


def unpack_step(
    archive: Path,
    workdir: Path,
    base_env: dict[str, str],
    limits: Limits,
    *,
    readable_by_all: bool = False,
) -> SetupStep:
    """`python -I unpack.py ARCHIVE WORKDIR --max-unpacked-mib N --max-entries N`: isolated
    (no PYTHON* variables, no user site, neither the script's nor the working directory on
    sys.path, so nothing the archive unpacks can be imported). `readable_by_all`: for a
    command that may run as another user than the unpack (the run agent's)."""
    argv = [sys.executable, "-I", unpack.__file__, str(archive), str(workdir), *limits.arguments()]
    if readable_by_all:
        argv.append("--readable-by-all")
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
