"""The local process runner in detail: output, environment, working directories, timeouts,
signals and process groups (real processes; the port-level contract is in tests/contract)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from archives import member, write
from fakes import FakeClock
from orchestrator.adapters.clock import SystemClock
from orchestrator.adapters.local.logfiles import LogFileReader
from orchestrator.adapters.local.runner import LocalProcessRunner
from orchestrator.domain.errors import LaunchFailed
from orchestrator.domain.models import Execution, LaunchSpec
from support import started_execution


@dataclass
class RecordingListener:
    running: list[str] = field(default_factory=list)
    exits: dict[str, tuple[int, bool]] = field(default_factory=dict)
    exited: threading.Condition = field(default_factory=threading.Condition)

    def on_running(self, execution_id: str) -> None:
        self.running.append(execution_id)

    def on_exit(self, execution_id: str, exit_code: int, *, timed_out: bool) -> None:
        with self.exited:
            self.exits[execution_id] = (exit_code, timed_out)
            self.exited.notify_all()

    def wait_exit(self, execution_id: str, timeout: float = 10) -> tuple[int, bool]:
        with self.exited:
            assert self.exited.wait_for(lambda: execution_id in self.exits, timeout), "no exit"
        return self.exits[execution_id]


@dataclass
class RunnerUnderTest:
    runner: LocalProcessRunner
    reader: LogFileReader
    listener: RecordingListener
    work_dir: Path

    def launch(self, execution_id: str, command: str, **spec: object) -> Execution:
        options: dict[str, object] = {"env": {}, "timeout_seconds": 30, **spec}
        result = self.runner.launch(
            LaunchSpec(execution_id=execution_id, command=command, **options)  # type: ignore[arg-type]
        )
        return started_execution(
            execution_id, command, result.task_ref, result.log_stream_name, timeout_seconds=30
        )

    def output(self, execution: Execution) -> list[str]:
        return [e.message for e in self.reader.read(execution, None, 1000).events]


@pytest.fixture
def local(tmp_path: Path) -> Iterator[RunnerUnderTest]:
    listener = RecordingListener()
    runner = LocalProcessRunner(
        tmp_path / "work", tmp_path / "logs", SystemClock(), kill_grace_seconds=0.5
    )
    runner.subscribe(listener)
    yield RunnerUnderTest(runner, LogFileReader(tmp_path / "logs"), listener, tmp_path / "work")
    runner.stop_all()


def test_a_command_runs_and_reports_running_then_its_exit_code(local: RunnerUnderTest) -> None:
    execution = local.launch("e1", "echo out; echo err >&2; exit 7")

    assert local.listener.wait_exit("e1") == (7, False)
    assert local.listener.running == ["e1"]
    assert local.output(execution) == ["out", "err"]
    assert execution.task_ref and execution.task_ref.isdigit()


def test_output_is_readable_while_the_command_runs(local: RunnerUnderTest) -> None:
    execution = local.launch("e1", "echo first; sleep 2; echo second")
    deadline = time.monotonic() + 1.5
    while not local.output(execution) and time.monotonic() < deadline:
        time.sleep(0.02)

    assert local.output(execution) == ["first"]
    local.listener.wait_exit("e1")
    assert local.output(execution) == ["first", "second"]


def test_a_partial_line_is_written_after_a_pause(local: RunnerUnderTest) -> None:
    execution = local.launch("e1", "printf 'prompt> '; sleep 1; echo done")
    time.sleep(0.7)

    assert local.output(execution) == ["prompt> "]
    local.listener.wait_exit("e1")


def test_the_environment_is_minimal_plus_the_executions_own(
    local: RunnerUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERVER_SECRET", "leak")
    execution = local.launch("e1", "env", env={"GREETING": "hi there"})
    local.listener.wait_exit("e1")

    names = {line.split("=", 1)[0] for line in local.output(execution)}
    assert "GREETING=hi there" in local.output(execution)
    assert "SERVER_SECRET" not in names
    assert names <= {"PATH", "HOME", "LANG", "PWD", "SHLVL", "_", "GREETING", "MYCLI_EXECUTION_ID"}


def test_each_execution_has_its_own_working_directory_removed_afterwards(
    local: RunnerUnderTest,
) -> None:
    execution = local.launch("e1", "pwd; touch made-here")
    local.listener.wait_exit("e1")

    assert local.output(execution) == [str(local.work_dir / "e1")]
    assert not (local.work_dir / "e1").exists()


def test_a_timeout_kills_the_whole_group(local: RunnerUnderTest, tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    local.launch("e1", f"sleep 60 & echo $! > {pid_file}; wait", timeout_seconds=1)

    code, timed_out = local.listener.wait_exit("e1")

    assert timed_out
    assert code == 128 + 15
    assert not _alive(int(pid_file.read_text()))


def test_cancel_terminates_then_kills_what_ignores_sigterm(
    local: RunnerUnderTest, tmp_path: Path
) -> None:
    ready = tmp_path / "ready"
    execution = local.launch("e1", f"trap '' TERM; touch {ready}; while :; do sleep 0.1; done")
    _wait_for(ready.exists)

    started = time.monotonic()
    local.runner.stop(execution, "cancelled by admin@x.io")
    code, timed_out = local.listener.wait_exit("e1")

    assert (code, timed_out) == (128 + 9, False)
    assert 0.4 < time.monotonic() - started < 5


def test_background_children_do_not_outlive_the_command(
    local: RunnerUnderTest, tmp_path: Path
) -> None:
    pid_file = tmp_path / "child.pid"
    local.launch("e1", f"sleep 60 > /dev/null 2>&1 & echo $! > {pid_file}")

    assert local.listener.wait_exit("e1") == (0, False)
    _wait_for(lambda: not _alive(int(pid_file.read_text())))


def test_a_launch_that_cannot_start_raises_launch_failed(tmp_path: Path) -> None:
    runner = LocalProcessRunner(tmp_path / "work", tmp_path / "logs", FakeClock())
    (tmp_path / "work").rmdir()
    (tmp_path / "work").write_text("now a file: no working directory can be made")

    with pytest.raises(LaunchFailed, match="working directory"):
        runner.launch(LaunchSpec("e1", "true", {}, 10))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = (
        Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}").exists() else "X"
    )
    return status not in ("Z", "X")


def _wait_for(condition: object, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_an_upload_is_unpacked_into_the_working_directory_first(
    local: RunnerUnderTest, tmp_path: Path
) -> None:
    archive = write(
        tmp_path / "code.tgz",
        member("run.sh", b"#!/bin/sh\ncat data.txt\nexit 5\n", 0o755),
        member("data.txt", b"from the upload"),
    )

    execution = local.launch("e1", "./run.sh", upload_location=str(archive))

    assert local.listener.wait_exit("e1") == (5, False)
    assert local.output(execution) == ["from the upload"]


def test_an_unsafe_upload_fails_the_launch_with_the_reason(
    local: RunnerUnderTest, tmp_path: Path
) -> None:
    archive = write(tmp_path / "evil.tgz", member("../../escape.sh"))

    with pytest.raises(LaunchFailed, match="upload refused: path leaves the directory"):
        local.launch("e1", "true", upload_location=str(archive))

    assert not (local.work_dir / "e1").exists()
    assert local.listener.running == []
