"""The command container's entry alone (command_entry.sh under dash and busybox sh), with
the test playing the agent: the workspace files, the FIFOs read by threads."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from orchestrator.agent.scripts import COMMAND_ENTRY_SCRIPT_PATH

SHELLS = [("dash",), ("busybox", "sh")]


def shell_argv(shell: tuple[str, ...]) -> list[str]:
    found = shutil.which(shell[0])
    assert found is not None, f"{shell[0]} is not installed: the entry's case cannot run"
    return [found, *shell[1:], "-c", COMMAND_ENTRY_SCRIPT_PATH.read_text()]


class Agent:
    """The agent's side: inputs written, FIFOs read into memory."""

    def __init__(self, root: Path, command: str, env: dict[str, str] | None = None) -> None:
        self.root = root
        (root / "work").mkdir()
        (root / "command").write_text(command)
        (root / "cwd").write_text(str(root / "work"))
        (root / "env").mkdir()
        for name, value in (env or {}).items():
            (root / "env" / name).write_text(value)
        self.output: dict[str, bytes] = {}
        self._threads = []
        for name in ("stdout", "stderr"):
            os.mkfifo(root / name)
            thread = threading.Thread(target=self._read, args=(name,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _read(self, name: str) -> None:
        with open(self.root / name, "rb") as fifo:
            self.output[name] = fifo.read()

    def go(self) -> None:
        (self.root / "go.part").touch()
        os.rename(self.root / "go.part", self.root / "go")

    def drained(self) -> dict[str, bytes]:
        for thread in self._threads:
            thread.join(10)
        return self.output


def start(shell: tuple[str, ...], root: Path, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        shell_argv(shell),
        env={"PATH": os.environ["PATH"], "MYCLI_WORKSPACE": str(root), **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.mark.parametrize("shell", SHELLS)
def test_the_entry_waits_for_go_then_runs_the_command_with_its_inputs(
    shell: tuple[str, ...], tmp_path: Path
) -> None:
    # Given an entry started before the agent's go, and variables that could steer a shell
    agent = Agent(
        tmp_path,
        'printf "%s|%s|%s" "$A" "$B" "$PWD"; echo err >&2; exit 9',
        {"A": "$(touch pwned) 'q'\n\n", "IFS": "x", "B": "b c", "bad-name": "v"},
    )
    entry = start(shell, tmp_path)
    time.sleep(0.3)
    assert entry.poll() is None and not (tmp_path / "exit").exists()

    # When the agent says go
    agent.go()

    # Then the command ran with its variables as data, its exit written by rename
    assert entry.wait(10) == 9
    output = agent.drained()
    assert output["stdout"] == f"$(touch pwned) 'q'\n\n|b c|{tmp_path / 'work'}".encode()
    assert output["stderr"] == b"err\n"
    assert (tmp_path / "exit").read_text() == "9\n"
    assert not (tmp_path / "exit.part").exists() and not (tmp_path / "env").exists()
    assert not list(tmp_path.rglob("pwned"))
    assert entry.stderr is not None and entry.stderr.read() == b""
    entry.stderr.close()


@pytest.mark.parametrize("shell", SHELLS)
def test_an_abort_ends_the_entry_with_125_without_running_anything(
    shell: tuple[str, ...], tmp_path: Path
) -> None:
    (tmp_path / "command").write_text("touch ran")
    entry = start(shell, tmp_path)

    (tmp_path / "abort").touch()

    assert entry.wait(10) == 125
    assert not list(tmp_path.rglob("ran")) and not (tmp_path / "exit").exists()
    assert entry.stderr is not None
    entry.stderr.close()


@pytest.mark.parametrize("shell", SHELLS)
def test_a_path_the_command_sets_does_not_stop_its_exit_being_written(
    shell: tuple[str, ...], tmp_path: Path
) -> None:
    agent = Agent(tmp_path, 'read line; echo "[$line]"; exit 2', {"PATH": "/nowhere"})
    entry = start(shell, tmp_path)
    agent.go()

    # no stdin file: the command reads /dev/null
    assert entry.wait(10) == 2
    assert agent.drained()["stdout"] == b"[]\n"
    assert (tmp_path / "exit").read_text() == "2\n"
    assert entry.stderr is not None
    entry.stderr.close()


@pytest.mark.parametrize("shell", SHELLS)
def test_hup_and_int_reach_the_command_as_term(shell: tuple[str, ...], tmp_path: Path) -> None:
    agent = Agent(tmp_path, "touch started; exec sleep 30")
    entry = start(shell, tmp_path)
    agent.go()
    deadline = time.monotonic() + 10
    while not (tmp_path / "work" / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.02)

    entry.send_signal(1)  # SIGHUP

    assert entry.wait(10) == 143
    assert (tmp_path / "exit").read_text() == "143\n"
    agent.drained()
    assert entry.stderr is not None
    entry.stderr.close()
