"""The local process runner in detail: output, environment, working directories, timeouts,
signals and process groups (real processes; the port-level contract is in tests/contract)."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archives import bomb, entry_bomb, member, realpath_overflow, write
from fakes import FakeClock
from orchestrator.adapters.clock import SystemClock
from orchestrator.adapters.local.logfiles import LocalLogWaiter, LogFileReader, prune_logs
from orchestrator.adapters.local.runner import LocalProcessRunner
from orchestrator.domain.errors import LaunchFailed
from orchestrator.domain.models import Execution, LaunchSpec
from orchestrator.unpack import MIB, Limits
from processes import marked
from support import started_execution


@dataclass
class RecordingListener:
    running: list[str] = field(default_factory=list)
    truncated: dict[str, int] = field(default_factory=dict)
    exits: dict[str, tuple[int, bool]] = field(default_factory=dict)
    setup_failures: dict[str, str] = field(default_factory=dict)
    exited: threading.Condition = field(default_factory=threading.Condition)

    def on_running(self, execution_id: str) -> None:
        self.running.append(execution_id)

    def on_log_truncated(self, execution_id: str, offset: int) -> None:
        self.truncated[execution_id] = offset

    def on_exit(self, execution_id: str, exit_code: int, *, timed_out: bool) -> None:
        with self.exited:
            self.exits[execution_id] = (exit_code, timed_out)
            self.exited.notify_all()

    def on_setup_failed(self, execution_id: str, reason: str) -> None:
        with self.exited:
            self.setup_failures[execution_id] = reason
            self.exits[execution_id] = (125, False)
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
    waiter: LocalLogWaiter

    def launch(self, execution_id: str, command: str, **spec: object) -> Execution:
        options: dict[str, object] = {"env": {}, "timeout_seconds": 30, **spec}
        result = self.runner.launch(
            LaunchSpec(execution_id=execution_id, command=command, **options)  # type: ignore[arg-type]
        )
        return started_execution(
            execution_id, command, result.task_ref, result.log_stream_name, timeout_seconds=30
        )

    def streams(self, execution: Execution) -> list[tuple[str, bytes]]:
        """Every stored chunk, read page by page, merged while the stream stays the same."""
        merged: list[tuple[str, bytes]] = []
        cursor = None
        while True:
            page = self.reader.read(execution, cursor, 1024 * 1024)
            for chunk in page.chunks:
                if merged and merged[-1][0] == chunk.stream.value:
                    merged[-1] = (chunk.stream.value, merged[-1][1] + chunk.data)
                else:
                    merged.append((chunk.stream.value, chunk.data))
            cursor = page.next_cursor
            if page.at_end:
                return merged

    def raw(self, execution: Execution) -> bytes:
        return b"".join(data for _, data in self.streams(execution))

    def output(self, execution: Execution) -> list[str]:
        return self.raw(execution).decode().splitlines()


MAX_LOG_BYTES = 1_000_000


@pytest.fixture
def local(tmp_path: Path) -> Iterator[RunnerUnderTest]:
    listener = RecordingListener()
    waiter = LocalLogWaiter(max_wait_seconds=5)
    runner = LocalProcessRunner(
        tmp_path / "work",
        tmp_path / "logs",
        SystemClock(),
        kill_grace_seconds=0.5,
        max_log_bytes=MAX_LOG_BYTES,
        log_waiter=waiter,
    )
    runner.subscribe(listener)
    yield RunnerUnderTest(
        runner, LogFileReader(tmp_path / "logs"), listener, tmp_path / "work", waiter
    )
    runner.stop_all()


def test_a_command_runs_and_reports_running_then_its_exit_code(local: RunnerUnderTest) -> None:
    execution = local.launch("e1", "echo out; echo err >&2; exit 7")

    assert local.listener.wait_exit("e1") == (7, False)
    assert local.listener.running == ["e1"]
    assert local.streams(execution) == [("stdout", b"out\n"), ("stderr", b"err\n")]
    assert execution.task_ref and execution.task_ref.isdigit()


def test_output_is_readable_while_the_command_runs(local: RunnerUnderTest) -> None:
    execution = local.launch("e1", "echo first; sleep 2; echo second")
    deadline = time.monotonic() + 1.5
    while not local.output(execution) and time.monotonic() < deadline:
        time.sleep(0.02)

    assert local.output(execution) == ["first"]
    local.listener.wait_exit("e1")
    assert local.output(execution) == ["first", "second"]


def test_a_partial_line_is_readable_at_once_and_nothing_is_added(local: RunnerUnderTest) -> None:
    execution = local.launch("e1", "printf 'prompt> '; sleep 1; echo done")
    _wait_for(lambda: local.raw(execution) != b"")

    assert local.raw(execution) == b"prompt> "
    local.listener.wait_exit("e1")
    assert local.raw(execution) == b"prompt> done\n"


def test_stdout_and_stderr_are_kept_apart_byte_for_byte(local: RunnerUnderTest) -> None:
    # Given a command writing \r, bytes that are not UTF-8, ANSI codes and a long line
    command = (
        "printf 'A\\nB\\rC\\n\\377\\033[31mred\\033[0m'; sleep 0.2; "
        "printf 'oops\\r' >&2; sleep 0.2; head -c 300000 /dev/zero | tr '\\0' x"
    )
    execution = local.launch("e1", command)
    local.listener.wait_exit("e1")

    # Then each stream's bytes are stored exactly, in arrival order
    assert local.streams(execution) == [
        ("stdout", b"A\nB\rC\n\xff\x1b[31mred\x1b[0m"),
        ("stderr", b"oops\r"),
        ("stdout", b"x" * 300_000),
    ]


def test_big_output_is_stored_with_a_small_index(local: RunnerUnderTest, tmp_path: Path) -> None:
    execution = local.launch("e1", "yes | head -c 900000")
    local.listener.wait_exit("e1")

    stored = sum(f.stat().st_size for f in (tmp_path / "logs").iterdir())
    assert local.raw(execution) == b"y\n" * 450_000
    assert stored <= 1.01 * 900_000


def test_output_past_the_cap_is_discarded_while_the_run_goes_on(
    local: RunnerUnderTest, tmp_path: Path
) -> None:
    # Given a command that prints more than the cap, then does more work
    done = tmp_path / "done"
    execution = local.launch("e1", f"head -c 1500000 /dev/zero; touch {done}; exit 4")

    # Then it runs to its end, only the cap is stored, and the truncation is reported
    assert local.listener.wait_exit("e1") == (4, False)
    assert done.exists()
    assert local.raw(execution) == b"\0" * MAX_LOG_BYTES
    assert local.listener.truncated == {"e1": MAX_LOG_BYTES}
    assert local.reader.read(execution, None, 10).truncated_at == MAX_LOG_BYTES


def test_the_stdin_file_is_the_commands_stdin(local: RunnerUnderTest, tmp_path: Path) -> None:
    (tmp_path / "input").write_bytes(b"line 1\n\x00\xffno newline")

    execution = local.launch("e1", "cat; echo; cat", stdin_location=str(tmp_path / "input"))

    local.listener.wait_exit("e1")
    assert local.raw(execution) == b"line 1\n\x00\xffno newline\n"


def test_without_a_stdin_file_stdin_is_empty(local: RunnerUnderTest) -> None:
    execution = local.launch("e1", "cat; echo end")

    assert local.listener.wait_exit("e1", timeout=5) == (0, False)
    assert local.raw(execution) == b"end\n"


def test_the_waiter_wakes_on_output_and_at_the_end(local: RunnerUnderTest) -> None:
    # Given a command that prints after a pause, then ends after another
    local.launch("e1", "sleep 0.4; printf x; sleep 0.4")

    # When a reader waits at offset 0, then at offset 1
    started = time.monotonic()
    local.waiter.wait("e1", "0", 5)
    first = time.monotonic() - started
    local.waiter.wait("e1", "1", 5)
    second = time.monotonic() - started

    # Then it is woken by the output, then by the end, not by the timeout
    assert 0.3 < first < 2
    assert 0.6 < second < 3
    assert "e1" in local.listener.exits


def test_logs_past_the_retention_are_pruned(local: RunnerUnderTest, tmp_path: Path) -> None:
    old = local.launch("old", "echo old")
    local.listener.wait_exit("old")
    new = local.launch("new", "echo new")
    local.listener.wait_exit("new")
    long_ago = time.time() - 40 * 86400
    for suffix in (".out", ".idx"):
        os.utime(tmp_path / "logs" / f"old{suffix}", (long_ago, long_ago))

    removed = prune_logs(tmp_path / "logs", datetime.now(UTC) - timedelta(days=30))

    assert removed == 1
    assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == ["new.idx", "new.out"]
    assert local.raw(old) == b""
    assert local.raw(new) == b"new\n"


def test_the_environment_is_minimal_plus_the_executions_own(
    local: RunnerUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERVER_SECRET", "leak")
    execution = local.launch("e1", "env", env={"GREETING": "hi there"})
    local.listener.wait_exit("e1")

    names = {line.split("=", 1)[0] for line in local.output(execution)}
    assert "GREETING=hi there" in local.output(execution)
    assert "SERVER_SECRET" not in names
    assert names <= {
        *("PATH", "HOME", "USER", "LOGNAME", "LANG", "PWD", "SHLVL", "_", "GREETING"),
        *("MYCLI_EXECUTION_ID", "MYCLI_RUNNER"),
    }


def test_each_execution_has_its_own_working_directory_removed_afterwards(
    local: RunnerUnderTest,
) -> None:
    execution = local.launch("e1", "pwd; touch made-here")
    local.listener.wait_exit("e1")

    assert local.output(execution) == [str(local.work_dir / "e1")]
    _wait_for(lambda: local.runner.active_count == 0)  # cleaned up once its end is reported
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


def test_a_restart_clears_what_a_dead_server_left_in_the_work_directory(tmp_path: Path) -> None:
    # Given a dead server's leftovers: a run's working copy and a checkout's deploy key
    work = tmp_path / "work"
    LocalProcessRunner(work, tmp_path / "logs", FakeClock())
    (work / "e1").mkdir()
    (work / "e1" / "main.tf").write_text("resource")
    (work / "e1.git-setup").mkdir()
    (work / "e1.git-setup" / "deploy-key").write_text("-----BEGIN OPENSSH PRIVATE KEY-----")

    # When the next server's runner cleans up after it
    LocalProcessRunner(work, tmp_path / "logs", FakeClock()).kill_leftovers([])

    # Then nothing of it is left, the key least of all
    assert list(work.iterdir()) == []


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


def test_an_unsafe_upload_fails_the_run_with_the_reason_and_the_command_never_runs(
    local: RunnerUnderTest, tmp_path: Path
) -> None:
    archive = write(tmp_path / "evil.tgz", member("ok.txt"), member("../../escape.sh"))

    execution = local.launch("e1", "touch ran", upload_location=str(archive))

    assert local.listener.wait_exit("e1") == (125, False)
    assert local.listener.setup_failures["e1"] == (
        "upload refused: path leaves the directory: ../../escape.sh"
    )
    assert local.raw(execution) == b"", "the unpack step's output stays out of the log"
    _wait_for(lambda: local.runner.active_count == 0)
    assert list(local.work_dir.iterdir()) == []
    assert not (tmp_path / "escape.sh").exists()


def test_a_bomb_over_the_runners_limit_fails_the_run_before_the_limit_is_passed(
    tmp_path: Path,
) -> None:
    listener = RecordingListener()
    runner = LocalProcessRunner(
        tmp_path / "work", tmp_path / "logs", SystemClock(), unpack_limits=Limits(2, 10)
    )
    runner.subscribe(listener)
    try:
        runner.launch(
            LaunchSpec(
                "big", "true", {}, 30, upload_location=str(bomb(tmp_path / "b.tgz", 3 * MIB))
            )
        )
        many = entry_bomb(tmp_path / "many.tgz", 11)
        runner.launch(LaunchSpec("many", "true", {}, 30, upload_location=str(many)))

        assert listener.wait_exit("big") == (125, False)
        assert listener.wait_exit("many") == (125, False)
    finally:
        runner.stop_all()
    assert listener.setup_failures == {
        "big": "upload refused: unpacks to more than 2 MiB (the unpacked-size limit)",
        "many": "upload refused: has more than 10 entries (the entry limit)",
    }


def test_a_cve_2025_4517_chain_writes_nothing_next_to_the_runs_directory(
    local: RunnerUnderTest, tmp_path: Path
) -> None:
    archive = write(tmp_path / "cve.tgz", *realpath_overflow(local.work_dir / "e1"))

    local.launch("e1", "touch ran", upload_location=str(archive))

    assert local.listener.wait_exit("e1") == (125, False)
    assert local.listener.setup_failures["e1"].startswith(
        "upload refused: path goes through a link"
    )
    _wait_for(lambda: local.runner.active_count == 0)
    assert list(local.work_dir.iterdir()) == []


@pytest.fixture
def slow_archive(tmp_path: Path) -> Path:
    """An upload whose unpack never ends on its own: a FIFO no one writes to."""
    fifo = tmp_path / "slow.tgz"
    os.mkfifo(fifo)
    return fifo


def test_launch_returns_at_once_and_a_cancel_ends_the_unpack(
    local: RunnerUnderTest, slow_archive: Path
) -> None:
    run = f"slow-{uuid.uuid4().hex}"
    started = time.monotonic()
    execution = local.launch(run, "touch ran", upload_location=str(slow_archive))
    assert time.monotonic() - started < 1, "launch never waits for the unpack"
    _wait_for(lambda: len(marked(run)) >= 1)

    local.runner.stop(execution, "cancelled")

    assert local.listener.wait_exit(run) == (143, False)
    assert marked(run) == []
    _wait_for(lambda: local.runner.active_count == 0)
    assert list(local.work_dir.iterdir()) == []


def test_the_unpack_counts_against_the_runs_timeout(
    local: RunnerUnderTest, slow_archive: Path
) -> None:
    started = time.monotonic()
    local.launch("e1", "touch ran", upload_location=str(slow_archive), timeout_seconds=1)

    assert local.listener.wait_exit("e1") == (143, True)
    assert time.monotonic() - started < 5
    _wait_for(lambda: local.runner.active_count == 0)
    assert list(local.work_dir.iterdir()) == []


def test_an_upload_and_stdin_both_reach_the_command(local: RunnerUnderTest, tmp_path: Path) -> None:
    archive = write(tmp_path / "code.tgz", member("data.txt", b"from the upload\n"))
    stdin = tmp_path / "stdin"
    stdin.write_bytes(b"from stdin\n")

    execution = local.launch(
        "e1", "cat data.txt -", upload_location=str(archive), stdin_location=str(stdin)
    )

    assert local.listener.wait_exit("e1") == (0, False)
    assert local.output(execution) == ["from the upload", "from stdin"]


def test_the_waiter_never_waits_longer_than_the_host_allows() -> None:
    waiter = LocalLogWaiter(max_wait_seconds=0.2)

    started = time.monotonic()
    waiter.wait("silent", "0", 20)

    assert 0.15 < time.monotonic() - started < 2


def test_a_stopping_server_answers_waiting_requests_at_once() -> None:
    waiter = LocalLogWaiter(max_wait_seconds=20)
    answered = threading.Event()
    threading.Thread(
        target=lambda: (waiter.wait("quiet", "0", 20), answered.set()), daemon=True
    ).start()

    waiter.release_all()

    assert answered.wait(2)
    started = time.monotonic()
    waiter.wait("quiet", "0", 20)
    assert time.monotonic() - started < 1


DEEP_TREE = "i=0; while [ $i -lt 1100 ]; do mkdir d && cd d; i=$((i+1)); done; chmod 000 .."


def test_a_run_that_makes_a_1100_deep_tree_ends_and_its_directory_goes(
    local: RunnerUnderTest,
) -> None:
    # Given a run that leaves a tree deeper than Python's recursion limit
    local.launch("deep", DEEP_TREE, timeout_seconds=20)

    # Then its end is reported, and its directory is removed after
    assert local.listener.wait_exit("deep", timeout=20) == (0, False)
    _wait_for(lambda: local.runner.active_count == 0)
    assert list(local.work_dir.iterdir()) == []


def test_a_restart_clears_a_1200_deep_leftover(tmp_path: Path) -> None:
    work = tmp_path / "work"
    LocalProcessRunner(work, tmp_path / "logs", FakeClock())
    fd = os.open(work, os.O_RDONLY | os.O_DIRECTORY)
    for name in ["e1", *["d"] * 1200]:
        os.mkdir(name, dir_fd=fd)
        child = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = child
    os.close(fd)

    LocalProcessRunner(work, tmp_path / "logs", FakeClock()).kill_leftovers([])

    assert list(work.iterdir()) == []
