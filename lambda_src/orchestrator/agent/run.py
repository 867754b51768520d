"""One run, as the agent sees it (docs/aws-agent.md): read the manifest, prepare, let the
command go, store its output, report. `run(config)` returns the agent's exit code: 0 once
a result is stored (the command's exit, or why the run failed); otherwise one of
layout's AGENT_EXIT_* codes, and the task-events function reports the agent stopped."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from orchestrator.agent.environment import run_environment
from orchestrator.agent.fetch import FetchFailed, fetch_bytes
from orchestrator.agent.layout import (
    AGENT_EXIT_CRASHED,
    AGENT_EXIT_NO_ASSIGNMENT,
    AGENT_EXIT_NO_MANIFEST,
    AGENT_EXIT_STORE_REFUSED,
    COMMAND_CONTAINER_LOST,
    EXECUTION_ID_VARIABLE,
    MAILBOX_UNTIL_VARIABLE,
    MAILBOX_URL_VARIABLE,
    MANIFEST_URL_VARIABLE,
    MAX_UNPACKED_MIB_VARIABLE,
    MAX_UPLOAD_ENTRIES_VARIABLE,
    WORKSPACE,
    WORKSPACE_VARIABLE,
)
from orchestrator.agent.mailbox import Mailbox, NoAssignment, wait_for_assignment
from orchestrator.agent.manifest import (
    MAX_MANIFEST_BYTES,
    Manifest,
    ManifestInvalid,
    parse_manifest,
)
from orchestrator.agent.output_writer import FlushTimer, OutputWriter
from orchestrator.agent.prepare import Prepared, SetupFailed, Stopped, prepare
from orchestrator.agent.pump import OutputPump
from orchestrator.agent.result import RunResult, result_key
from orchestrator.agent.say import AgentLog
from orchestrator.agent.segment_post import ObjectStore, PostSlot, PresignedPostStore
from orchestrator.agent.workspace import Fifos, InputsRefused, Workspace
from orchestrator.unpack import Limits

EXIT_POLL_SECONDS = 0.05
# After SIGTERM (StopTask: cancel or timeout; ECS stops the command container too), how
# long the command's exit is waited for before the run is reported without it.
STOP_GRACE_SECONDS = 20.0
# Once the command has ended, what is left in the FIFOs is a pipe buffer at most.
DRAIN_SECONDS = 2.0
# Both streams ended (the entry, which holds them, is gone) and no `exit` this long after:
# the command container was killed (SIGKILL, out of memory) before it could write one.
LOST_GRACE_SECONDS = 2.0
NOT_AFTER_STOP = (
    "the command's container did not report an exit code within "
    f"{STOP_GRACE_SECONDS:.0f} s of the stop"
)
STORE_REFUSED = "the output store refused a write: "
STOPPED_EXIT_CODE = 128 + signal.SIGTERM  # a run stopped before its command started


@dataclass(frozen=True)
class AgentConfig:
    manifest_url: str
    execution_id: str | None
    workspace: Path
    limits: Limits
    mailbox: Mailbox | None = None  # a warm task: its run arrives there

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> AgentConfig:
        """From the task definition's variables and RunTask's overrides (ValueError)."""
        defaults = Limits()
        return cls(
            manifest_url=environ.get(MANIFEST_URL_VARIABLE, ""),
            execution_id=environ.get(EXECUTION_ID_VARIABLE) or None,
            mailbox=_mailbox(environ),
            workspace=Path(environ.get(WORKSPACE_VARIABLE) or WORKSPACE),
            limits=Limits(
                max_unpacked_mib=_positive(
                    environ, MAX_UNPACKED_MIB_VARIABLE, defaults.max_unpacked_mib
                ),
                max_entries=_positive(environ, MAX_UPLOAD_ENTRIES_VARIABLE, defaults.max_entries),
            ),
        )


def _positive(environ: Mapping[str, str], name: str, default: int) -> int:
    text = environ.get(name)
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{name} must be a positive integer")
    return int(text)


def _mailbox(environ: Mapping[str, str]) -> Mailbox | None:
    url = environ.get(MAILBOX_URL_VARIABLE)
    if not url:
        return None
    if environ.get(MANIFEST_URL_VARIABLE) or environ.get(EXECUTION_ID_VARIABLE):
        raise ValueError(f"{MAILBOX_URL_VARIABLE} comes without a manifest URL or execution id")
    until = environ.get(MAILBOX_UNTIL_VARIABLE)
    if not until:
        raise ValueError(f"{MAILBOX_URL_VARIABLE} needs {MAILBOX_UNTIL_VARIABLE}")
    return Mailbox.parse(url, until)


def _slot(manifest: Manifest) -> PostSlot:
    """The manifest's output slot, checked (ValueError)."""
    output = manifest.output
    return PostSlot.from_dict({"url": output.url, "fields": output.fields, "prefix": output.prefix})


class StoreRefused(Exception):
    """The output store refused a write, or could not be reached past its retries."""


class Agent:
    def __init__(self, config: AgentConfig, log: AgentLog, kms: Any | None = None) -> None:
        self._config = config
        self._log = log
        self._kms = kms
        self._workspace = Workspace(config.workspace)
        self.stopping = threading.Event()

    def run(self) -> int:
        if self._config.mailbox is not None and not self._assigned(self._config.mailbox):
            self._workspace.abort()
            return AGENT_EXIT_NO_ASSIGNMENT
        manifest = self._manifest()
        if manifest is None:
            self._workspace.abort()
            return AGENT_EXIT_NO_MANIFEST
        slot = _slot(manifest)
        store = PresignedPostStore(slot)
        report_to = result_key(slot.prefix)
        try:
            result = self._run(manifest, store)
        except StoreRefused as error:
            self._log.say(f"{STORE_REFUSED}{error}")
            self._report(store, report_to, RunResult(failure=f"{STORE_REFUSED}{error}"))
            return AGENT_EXIT_STORE_REFUSED
        except Exception as error:
            self._log.say(f"failed: {type(error).__name__}: {error}")
            self._workspace.abort()
            failure = f"the run agent failed: {type(error).__name__}"
            self._report(store, report_to, RunResult(failure=failure))
            return AGENT_EXIT_CRASHED
        if not self._report(store, report_to, result):
            return AGENT_EXIT_STORE_REFUSED
        self._log.say(f"done: exit code {result.exit_code}")
        return 0

    def _assigned(self, mailbox: Mailbox) -> bool:
        """Wait for the run; from then on this is a cold agent given its overrides."""
        self._log.say("waiting for an assignment")
        try:
            assignment = wait_for_assignment(mailbox, self.stopping)
        except NoAssignment as reason:
            self._log.say(f"no assignment: {reason}")
            return False
        self._log.say(f"assigned run {assignment.execution_id}")
        self._config = replace(
            self._config,
            manifest_url=assignment.manifest_url,
            execution_id=assignment.execution_id,
            mailbox=None,
        )
        return True

    def _manifest(self) -> Manifest | None:
        url = self._config.manifest_url
        if not url:
            self._log.say(f"no manifest URL ({MANIFEST_URL_VARIABLE})")
            return None
        try:
            manifest = parse_manifest(fetch_bytes(url, MAX_MANIFEST_BYTES))
            _slot(manifest)  # checked here: without a slot, no result can be written
        except (FetchFailed, ManifestInvalid, ValueError) as error:
            self._log.say(f"cannot read the manifest: {error}")
            return None
        wanted = self._config.execution_id
        if wanted is not None and manifest.execution_id != wanted:
            self._log.say(f"the manifest is for another run than {wanted}")
            return None
        self._log.say(f"run {manifest.execution_id}: manifest read")
        return manifest

    def _run(self, manifest: Manifest, store: ObjectStore) -> RunResult:
        try:
            prepared = prepare(
                manifest,
                self._workspace,
                self._config.limits,
                self.stopping,
                self._log.say,
                self._kms,
            )
            self._log.mask(prepared.mask)
            # Over the command container's own environment (its image's PATH, the task role's
            # credentials): the run's HOME, USER, LOGNAME and LANG, then its env and secrets.
            env = run_environment(home=str(self._workspace.work), variables=prepared.env)
            self._workspace.write_inputs(manifest.command, env, prepared.subdir)
        except SetupFailed as failed:
            self._log.say(f"setup failed: {failed}")
            self._workspace.abort()
            return RunResult(failure=str(failed))
        except InputsRefused as refused:
            self._log.say(f"setup failed: {refused}")
            self._workspace.abort()
            return RunResult(failure=str(refused))
        except Stopped as stopped:
            self._log.say(str(stopped))
            self._workspace.abort()
            return RunResult(exit_code=stopped.exit_code)
        if self.stopping.is_set():  # told to stop before the command could start
            self._log.say("stopped during setup")
            self._workspace.abort()
            return RunResult(exit_code=STOPPED_EXIT_CODE)
        return self._watch(manifest, store, prepared)

    def _watch(self, manifest: Manifest, store: ObjectStore, prepared: Prepared) -> RunResult:
        """Let the command go, store its output until it has ended and is drained."""
        writer = OutputWriter(manifest.execution_id, store, manifest.max_log_bytes)

        def keep(stream: str, data: bytes) -> None:
            try:
                writer.write(stream, data)
            except Exception:  # kept by the writer (writer.error): the watch sees it
                return

        fifos = self._workspace.open_fifos()
        pump = OutputPump(fifos.reads, keep, [value.encode() for value in prepared.mask])
        timer = FlushTimer(writer)
        pump.start()
        timer.start()
        try:
            self._workspace.go()
            self._log.say("go")
            exit_code, unknown = self._wait_for_exit(writer, fifos, pump)
            if unknown is not None:
                self._log.say(f"{unknown}: reporting without it")
        finally:
            self._workspace.remove_env()
            fifos.close_keepers()
            pump.finish(DRAIN_SECONDS if writer.error is None else 0.0)
            timer.stop()
            fifos.close()
        try:
            writer.close()
        except Exception as error:
            raise StoreRefused(str(error)) from None
        return RunResult(
            exit_code=exit_code,
            git_commit=prepared.git_commit,
            truncated_at=writer.truncated_at,
            exit_unknown=unknown,
        )

    def _wait_for_exit(
        self, writer: OutputWriter, fifos: Fifos, pump: OutputPump[str]
    ) -> tuple[int | None, str | None]:
        """The command's exit code, or None and why it is not known."""
        deadline: float | None = None
        lost_after: float | None = None
        while True:
            ended, code = self._workspace.exit_code()
            if ended:
                return code, None
            if writer.error is not None:
                raise StoreRefused(str(writer.error))
            if fifos.keepers and self._workspace.started():
                fifos.close_keepers()  # the entry holds both FIFOs now: their end is its
            if not fifos.keepers and pump.ended():
                lost_after = lost_after or time.monotonic() + LOST_GRACE_SECONDS
                if time.monotonic() > lost_after:
                    return None, COMMAND_CONTAINER_LOST
            if self.stopping.is_set() and deadline is None:
                deadline = time.monotonic() + STOP_GRACE_SECONDS
            if deadline is not None and time.monotonic() > deadline:
                return None, NOT_AFTER_STOP
            time.sleep(EXIT_POLL_SECONDS)

    def _report(self, store: ObjectStore, key: str, result: RunResult) -> bool:
        """Store the result; False (and a line) when the store will not take it."""
        try:
            store.put(key, result.to_json())
        except Exception as error:
            self._log.say(f"cannot store the result: {error}")
            return False
        return True


def main(environ: Mapping[str, str] | None = None) -> int:
    """The agent's process: its config from the environment, SIGTERM and SIGINT as stop."""
    log = AgentLog()
    try:
        config = AgentConfig.from_env(os.environ if environ is None else environ)
    except ValueError as error:
        log.say(f"bad configuration: {error}")
        return AGENT_EXIT_CRASHED
    agent = Agent(config, log)

    def stop(signum: int, frame: object) -> None:
        agent.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return agent.run()
