"""The agent's pieces one by one: the byte pump, the workspace files, the result, the log,
its configuration, and that it needs nothing beyond the standard library."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from orchestrator.adapters.aws.s3_results import ResultInvalid, parse_result
from orchestrator.agent.layout import AGENT_EXIT_CRASHED, COMMAND_CONTAINER_LOST, RESULT_VERSION
from orchestrator.agent.prepare import SetupFailed, Stopped, run_step
from orchestrator.agent.pump import OutputPump
from orchestrator.agent.result import RunResult
from orchestrator.agent.run import AgentConfig, main
from orchestrator.agent.say import AgentLog
from orchestrator.agent.setup import UPLOAD_REFUSED, SetupStep, unpack_reason
from orchestrator.agent.workspace import InputsRefused, Workspace
from orchestrator.unpack import REFUSALS, Limits

LAMBDA_SRC = Path(__file__).resolve().parents[2] / "lambda_src"


class Collected:
    def __init__(self) -> None:
        self.pieces: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()

    def __call__(self, stream: str, data: bytes) -> None:
        with self.lock:
            self.pieces.append((stream, data))

    def of(self, stream: str) -> bytes:
        return b"".join(data for name, data in self.pieces if name == stream)


# -- the byte pump ------------------------------------------------------------------------


def test_the_pump_copies_each_stream_exactly_and_masks_values_split_across_writes() -> None:
    # Given two pipes and a secret
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    collected = Collected()
    pump = OutputPump({"stdout": out_read, "stderr": err_read}, collected, [b"s3cr3t-v"])
    pump.start()

    # When the value arrives in two pieces on stdout, whole on stderr, with odd bytes around
    os.write(out_write, b"\xff partial s3c")
    os.write(err_write, b"e: s3cr3t-v\r")
    os.write(out_write, b"r3t-v end")
    for fd in (out_write, err_write):
        os.close(fd)
    pump.finish(5.0)

    # Then each stream has its bytes, the value masked in both
    assert collected.of("stdout") == b"\xff partial *** end"
    assert collected.of("stderr") == b"e: ***\r"
    for fd in (out_read, err_read):
        os.close(fd)


def test_the_pump_stops_after_the_drain_time_when_a_writer_is_never_closed() -> None:
    # Given a pipe whose write end someone keeps open
    read, write = os.pipe()
    collected = Collected()
    pump = OutputPump({"stdout": read}, collected, [])
    pump.start()
    os.write(write, b"kept")

    # When the pump is finished with a short drain
    pump.finish(0.2)

    # Then it returns with what came
    assert collected.of("stdout") == b"kept"
    for fd in (read, write):
        os.close(fd)


def test_the_pump_reads_a_fifo_opened_non_blocking_until_its_last_writer_closes(
    tmp_path: Path,
) -> None:
    # Given the agent's FIFOs: read ends non-blocking, and a keeper write end
    fifos = Workspace(tmp_path).open_fifos()
    collected = Collected()
    pump = OutputPump(fifos.reads, collected, [])
    pump.start()

    # When a writer comes and goes, then the keepers close
    with open(tmp_path / "stdout", "wb") as writer:
        writer.write(b"one\n")
    with open(tmp_path / "stderr", "wb") as writer:
        writer.write(b"two")
    fifos.close_keepers()
    pump.finish(5.0)
    fifos.close()

    # Then everything written was read
    assert (collected.of("stdout"), collected.of("stderr")) == (b"one\n", b"two")


# -- the workspace ------------------------------------------------------------------------


def test_the_inputs_are_files_the_command_container_can_read(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    workspace.prepare()

    workspace.write_inputs("echo hi", {"A": "x\n", "_B2": ""}, "app")
    workspace.go()

    assert (tmp_path / "command").read_text() == "echo hi"
    assert (tmp_path / "env" / "A").read_bytes() == b"x\n"
    assert (tmp_path / "env" / "_B2").read_bytes() == b""
    assert stat.S_IMODE((tmp_path / "env" / "A").stat().st_mode) == 0o644
    assert (tmp_path / "cwd").read_text() == str(tmp_path / "work" / "app")
    assert (tmp_path / "go").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "command", "cwd", "env", "go", "work"
    ]  # fmt: skip


@pytest.mark.parametrize("name", ["1A", "A-B", "A B", "../x", "", "A\n"])
def test_a_variable_name_no_shell_could_export_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(InputsRefused, match="not a shell name"):
        Workspace(tmp_path).write_inputs("true", {name: "v"}, None)
    assert not (tmp_path / "env").exists()


def test_the_fifos_are_writable_by_any_user(tmp_path: Path) -> None:
    fifos = Workspace(tmp_path).open_fifos()
    try:
        for name in ("stdout", "stderr"):
            mode = (tmp_path / name).stat().st_mode
            assert stat.S_ISFIFO(mode) and stat.S_IMODE(mode) == 0o666
    finally:
        fifos.close()


@pytest.mark.parametrize(
    ("content", "read"),
    [(None, (False, None)), ("0\n", (True, 0)), ("143\n", (True, 143)), ("x\n", (True, None))],
)
def test_the_exit_file_is_read_once_it_is_there(
    tmp_path: Path, content: str | None, read: tuple[bool, int | None]
) -> None:
    if content is not None:
        (tmp_path / "exit").write_text(content)
    assert Workspace(tmp_path).exit_code() == read


# -- the result, the log, the configuration ----------------------------------------------


def test_a_result_has_the_documented_shape_and_task_events_reads_it() -> None:
    result = RunResult(exit_code=3, git_commit="a" * 40, failure=None, truncated_at=10)

    assert json.loads(result.to_json()) == {
        "v": RESULT_VERSION,
        "exit_code": 3,
        "git_commit": "a" * 40,
        "failure": None,
        "truncated_at": 10,
        "exit_unknown": None,
    }
    read = parse_result(result.to_json())
    assert (read.exit_code, read.git_commit, read.failure, read.truncated_at) == (
        3,
        "a" * 40,
        None,
        10,
    )
    lost = parse_result(RunResult(exit_unknown=COMMAND_CONTAINER_LOST).to_json())
    assert (lost.exit_code, lost.exit_unknown) == (None, COMMAND_CONTAINER_LOST)


def test_a_long_failure_is_cut_to_what_a_result_holds() -> None:
    raw = RunResult(failure="x" * 5000).to_json()
    read = parse_result(raw)
    assert read.failure is not None and len(read.failure) == 1000
    assert read.failure.endswith("...")
    with pytest.raises(ResultInvalid):
        parse_result(raw.replace(b'"v": 1', b'"v": 2'))


def test_the_agents_lines_are_prefixed_one_line_each_and_mask_what_they_know() -> None:
    stream = io.StringIO()
    log = AgentLog(stream)
    log.mask(["hunter2-value"])

    log.say("failed: bad\nvalue hunter2-value here")

    assert stream.getvalue() == "mycli-agent: failed: bad value *** here\n"


def test_the_config_comes_from_the_task_definition_and_overrides() -> None:
    config = AgentConfig.from_env(
        {
            "MYCLI_MANIFEST_URL": "http://x/m",
            "MYCLI_EXECUTION_ID": "e1",
            "MYCLI_MAX_UNPACKED_MIB": "7",
        }
    )
    assert (config.manifest_url, config.execution_id, str(config.workspace)) == (
        "http://x/m",
        "e1",
        "/mycli",
    )
    assert config.limits == Limits(max_unpacked_mib=7)


def test_a_bad_limit_is_the_agents_crash_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main({"MYCLI_MAX_UPLOAD_ENTRIES": "-1"}) == AGENT_EXIT_CRASHED
    assert capsys.readouterr().err == (
        "mycli-agent: bad configuration: MYCLI_MAX_UPLOAD_ENTRIES must be a positive integer\n"
    )


@pytest.mark.parametrize(
    ("stderr", "code", "reason"),
    [
        ("mycli: upload refused: corrupt archive: x\n", 65, "upload refused: corrupt archive: x"),
        ("", 69, UPLOAD_REFUSED + REFUSALS["special"][1]),
        ("Traceback...\n", 1, UPLOAD_REFUSED + "the unpack step exited with code 1"),
    ],
)
def test_the_unpack_reason_is_its_last_line_else_its_exit_code(
    stderr: str, code: int, reason: str
) -> None:
    assert unpack_reason(stderr, code) == reason


def test_the_agent_needs_nothing_beyond_the_standard_library() -> None:
    # Given a fresh interpreter without site-packages that imports the agent's modules
    probe = (
        "import sys, json\n"
        "import orchestrator.agent.run, orchestrator.agent.setup, orchestrator.agent.unseal\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-S", "-c", probe],
        env={"PYTHONPATH": str(LAMBDA_SRC)},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )

    # Then every module it loaded is the standard library's or the orchestrator's
    outside = [
        name
        for name in json.loads(loaded.stdout)
        if name.split(".")[0] not in {*sys.stdlib_module_names, "orchestrator", "__main__"}
    ]
    assert outside == []
    assert "orchestrator.domain" not in json.loads(loaded.stdout)


# -- a setup step, as the agent runs it --------------------------------------------------


def test_a_step_stopped_by_sigterm_ends_with_its_group_and_exit_code(tmp_path: Path) -> None:
    # Given a step that starts a background child and waits
    pid_file = tmp_path / "child"
    script = f"sleep 30 & echo $! > {pid_file}; wait"
    step = SetupStep("slow", ["sh", "-c", script], {"PATH": os.environ["PATH"]}, unpack_reason)
    stopping = threading.Event()
    threading.Timer(0.3, stopping.set).start()

    # When the agent is told to stop while it runs
    with pytest.raises(Stopped) as stopped:
        run_step(step, stopping)

    # Then the step ended by SIGTERM, and its child with it
    assert stopped.value.exit_code == 143
    child = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        for _ in range(100):
            os.kill(child, 0)
            time.sleep(0.02)


def test_a_failed_step_is_its_reason_and_a_good_one_hands_over_its_stdout() -> None:
    seen: list[str] = []
    ok = SetupStep("ok", ["sh", "-c", "echo out"], {}, unpack_reason, seen.append)
    bad = SetupStep("bad", ["sh", "-c", "echo 'mycli: no' >&2; exit 65"], {}, unpack_reason)

    run_step(ok, threading.Event())
    with pytest.raises(SetupFailed, match=r"^no$"):
        run_step(bad, threading.Event())
    assert seen == ["out\n"]


def test_given_a_prepared_workspace_when_go_then_the_agents_scratch_is_gone(
    tmp_path: Path,
) -> None:
    workspace = Workspace(tmp_path)
    workspace.prepare()
    (workspace.scratch / "git").mkdir()
    (workspace.scratch / "git" / "config").write_text("[credential]\n")

    workspace.go()

    assert not workspace.scratch.exists()
    assert (tmp_path / "go").exists()
