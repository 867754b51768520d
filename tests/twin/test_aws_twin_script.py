"""`./scripts/aws-twin up/down` as real subprocesses, with a temporary config home and run
directory: the unchanged `mycli --profile twin` works against it, a run goes through the
ECS stand-in with its exit code recorded, and `down` leaves no process behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from twin.ecs import StartDelaySetting
from twin.runstate import STATE_FILE, alive, marked_processes

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = str(ROOT / "scripts" / "aws-twin")
MYCLI = str(Path(sys.executable).parent / "mycli")
START_DELAY = "0.5"  # Fargate's start latency, modelled (seconds)


@dataclass
class RunningTwin:
    home: Path
    up_output: str

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "XDG_CONFIG_HOME": str(self.home / "config")}

    def script(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [SCRIPT, *args, "--dir", str(self.run_dir)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )

    def mycli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [MYCLI, "--profile", "twin", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def state(self) -> dict[str, object]:
        loaded: dict[str, object] = json.loads((self.run_dir / STATE_FILE).read_text())
        return loaded


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTwin]:
    running = RunningTwin(tmp_path_factory.mktemp("twin"), "")
    started = running.script("up", "--reaper-interval", "2", "--task-start-delay", START_DELAY)
    assert started.returncode == 0, started.stderr
    running.up_output = started.stdout
    yield running
    running.script("down")


def test_given_up_then_the_profile_twin_holds_the_printed_url_and_admin_key(
    twin: RunningTwin,
) -> None:
    config = tomllib.loads((twin.home / "config" / "mycli" / "config.toml").read_text())
    profile = config["profiles"]["twin"]
    assert f"API URL: {profile['api_url']}" in twin.up_output
    assert profile["api_key"] in twin.up_output
    assert profile["api_url"].startswith("http://127.0.0.1:")
    assert profile["api_url"].endswith("/prod")


def test_given_up_when_whoami_with_the_twin_profile_then_the_admin_answers(
    twin: RunningTwin,
) -> None:
    result = twin.mycli("whoami")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("admin@mycli (admin)")


@pytest.mark.parametrize(
    ("command", "exit_code", "status"),
    [
        ("true", 0, "SUCCEEDED"),
        ("echo out; echo err >&2; exit 3", 3, "FAILED"),
    ],
)
def test_given_up_when_exec_then_the_stand_in_runs_it_and_its_exit_code_is_recorded(
    twin: RunningTwin, command: str, exit_code: int, status: str
) -> None:
    tasks_before = set((twin.run_dir / "tasks").glob("*"))

    result = twin.mycli("exec", "--", "sh", "-c", command)

    assert result.returncode == exit_code, result.stderr
    execution_id = result.stderr.split("execution ", 1)[1].split()[0]
    record = json.loads(twin.mycli("status", execution_id, "-o", "json").stdout)
    assert (record["status"], record["exit_code"]) == (status, exit_code)
    [task] = set((twin.run_dir / "tasks").glob("*")) - tasks_before
    assert (task / "logs").is_dir()  # the stand-in ran the task's containers
    # The run agent stored the output in S3; the logs route gives it back, streams apart.
    assert result.stdout == ("out\n" if exit_code else "")
    assert ("err\n" in result.stderr) == bool(exit_code)


def test_given_up_with_a_task_start_delay_then_the_running_twin_starts_tasks_with_it(
    twin: RunningTwin,
) -> None:
    assert StartDelaySetting(twin.run_dir)() == float(START_DELAY)


def test_given_up_when_up_again_then_it_says_already_up_and_keeps_the_key(
    twin: RunningTwin,
) -> None:
    pid = twin.state()["pid"]

    again = twin.script("up")

    assert again.returncode == 0
    assert "already up" in again.stderr
    assert twin.state()["pid"] == pid
    assert twin.mycli("whoami").returncode == 0


def test_given_a_running_command_when_down_then_no_process_is_left(
    tmp_path: Path,
) -> None:
    running = RunningTwin(tmp_path, "")
    assert running.script("up").returncode == 0
    pid = int(str(running.state()["pid"]))
    started = subprocess.Popen(
        [MYCLI, "--profile", "twin", "exec", "--", "sleep", "300"],
        env=running.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(lambda: bool(marked_processes("MYCLI_TWIN_RUN", str(running.run_dir))))

        stopped = running.script("down")

        assert stopped.returncode == 0, stopped.stderr
        assert not alive(pid)
        assert marked_processes("MYCLI_TWIN_RUN", str(running.run_dir)) == []
        assert not (running.run_dir / STATE_FILE).exists()
        assert "not running" in running.script("down").stderr
    finally:
        started.kill()
        started.wait()


def _wait_for(condition: object, timeout: float = 30) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not callable(condition) or not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
