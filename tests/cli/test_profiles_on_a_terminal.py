"""On a terminal (a real pseudo-terminal): `configure` asks for the key without echoing it and
asks before switching; `profiles remove` asks before deleting."""

from __future__ import annotations

import os
import pty
import select
import sys
import time
import tomllib
from typing import Any

from cli_harness import CliHarness
from mycli import exitcodes
from mycli.config import ConfigFile


class Terminal:
    """`python -m mycli ARGS` on a pseudo-terminal: read what it shows, type answers."""

    def __init__(self, harness: CliHarness, *args: str) -> None:
        env = {
            **os.environ,
            "XDG_CONFIG_HOME": str(harness.config_home),
            "MYCLI_API_URL": "",
            "MYCLI_API_KEY": "",
            "MYCLI_PROFILE": "",
        }
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execve(sys.executable, [sys.executable, "-m", "mycli", *args], env)
        self.screen = ""

    def wait_for(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.screen:
            assert time.monotonic() < deadline, f"{text!r} never shown: {self.screen!r}"
            if not self._read(deadline - time.monotonic()):
                raise AssertionError(f"ended before {text!r}: {self.screen!r}")

    def type(self, line: str) -> None:
        os.write(self.fd, line.encode() + b"\r")

    def finish(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while self._read(deadline - time.monotonic()):
            assert time.monotonic() < deadline, self.screen
        os.close(self.fd)
        _, status = os.waitpid(self.pid, 0)
        return os.waitstatus_to_exitcode(status)

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], max(timeout, 0))
        if not ready:
            return True
        try:
            data = os.read(self.fd, 4096)
        except OSError:  # EIO: the other side closed
            return False
        self.screen += data.decode(errors="replace")
        return bool(data)


def saved(harness: CliHarness) -> dict[str, Any]:
    return tomllib.loads((harness.config_home / "mycli" / "config.toml").read_text())


def current_work_profile(harness: CliHarness) -> None:
    ConfigFile(
        current_profile="work",
        profiles={"work": {"api_url": harness.url, "api_key": harness.user_key}},
    ).save(harness.config_home / "mycli" / "config.toml")


def test_configure_asks_for_the_key_unechoed_then_whether_to_switch(
    harness: CliHarness,
) -> None:
    current_work_profile(harness)
    terminal = Terminal(harness, "configure", "--profile", "boss", "--api-url", harness.url)

    terminal.wait_for("API key: ")
    terminal.type(harness.admin_key)
    terminal.wait_for("make 'boss' the current profile (now 'work')? [y/N]: ")
    terminal.type("y")
    code = terminal.finish()

    assert code == 0, terminal.screen
    assert harness.admin_key not in terminal.screen
    assert "saved profile 'boss' as admin@example.com (admin)" in terminal.screen
    assert saved(harness)["current_profile"] == "boss"
    assert saved(harness)["profiles"]["boss"]["api_key"] == harness.admin_key


def test_configure_on_a_terminal_keeps_the_current_profile_when_told_no(
    harness: CliHarness,
) -> None:
    current_work_profile(harness)
    terminal = Terminal(harness, "configure", "-p", "boss", "--api-url", harness.url)

    terminal.wait_for("API key: ")
    terminal.type(harness.admin_key)
    terminal.wait_for("[y/N]: ")
    terminal.type("")
    code = terminal.finish()

    assert code == 0, terminal.screen
    assert "current profile is still 'work'" in terminal.screen
    assert saved(harness)["current_profile"] == "work"


def test_remove_asks_first_on_a_terminal(harness: CliHarness) -> None:
    current_work_profile(harness)

    declined = Terminal(harness, "profiles", "remove", "work")
    declined.wait_for("remove profile 'work' and its saved key? [y/N]: ")
    declined.type("n")
    declined_code = declined.finish()
    kept = saved(harness)

    accepted = Terminal(harness, "profiles", "remove", "work")
    accepted.wait_for("[y/N]: ")
    accepted.type("y")
    accepted_code = accepted.finish()

    assert declined_code == exitcodes.FAILURE
    assert "profile 'work' kept" in declined.screen
    assert "work" in kept["profiles"]
    assert accepted_code == 0, accepted.screen
    assert "removed profile 'work'" in accepted.screen
    assert "no profile is current now" in accepted.screen
    assert saved(harness) == {}
