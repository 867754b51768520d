"""Shell completion of what lives on the server, as the shell asks for it (a real `mycli`
process with click's completion variables): recent execution ids where an id is expected,
image names where an image is; nothing, quickly and quietly, when the server cannot say."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from cli_harness import CliHarness
from mycli.commands.remote_values import COMPLETION_TIMEOUT_SECONDS


def complete(harness: CliHarness, line: str, *, url: str | None = None) -> tuple[list[str], str]:
    """What bash completion offers for the last word of `line` (after a space: a new word),
    and the process's stderr."""
    words = line.split(" ")
    result = subprocess.run(
        [sys.executable, "-m", "mycli"],
        env={
            "PATH": "/usr/bin:/bin",
            "XDG_CONFIG_HOME": str(harness.config_home),
            "MYCLI_API_URL": url or harness.url,
            "MYCLI_API_KEY": harness.admin_key,
            "_MYCLI_COMPLETE": "bash_complete",
            "COMP_WORDS": line,
            "COMP_CWORD": str(len(words) - 1),
        },
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    offered = [entry.split(",", 1)[1] for entry in result.stdout.splitlines() if entry]
    return offered, result.stderr


def started(harness: CliHarness, *command: str) -> str:
    return harness.run("exec", "-d", "--", *command, key=harness.admin_key).stdout.strip()


@pytest.mark.parametrize("command", ["logs", "status", "cancel"])
def test_an_execution_id_completes_from_the_recent_runs(harness: CliHarness, command: str) -> None:
    first, second = started(harness, "true"), started(harness, "echo two")

    offered, errors = complete(harness, f"mycli {command} ")

    assert {first, second} <= set(offered)
    assert errors == ""


def test_the_id_s_first_characters_narrow_the_choice(harness: CliHarness) -> None:
    ids = [started(harness, "true") for _ in range(3)]

    offered, _ = complete(harness, f"mycli logs -f {ids[1][:12]}")

    assert offered == [ids[1]]


def test_an_image_name_completes_for_exec_and_for_removal(harness: CliHarness) -> None:
    for name in ("python3-12", "python3-11", "node"):
        registered = harness.run(
            "admin", "images", "register", name, "--image", f"{name}:1", key=harness.admin_key
        )
        assert registered.exit_code == 0, registered.stderr

    assert sorted(complete(harness, "mycli exec --image py")[0]) == ["python3-11", "python3-12"]
    assert "node" in complete(harness, "mycli admin images remove ")[0]


def test_a_server_that_is_not_there_completes_nothing_and_says_nothing(
    harness: CliHarness,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]

    offered, errors = complete(harness, "mycli logs ", url=f"http://127.0.0.1:{free_port}")

    assert (offered, errors) == ([], "")


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A server that takes connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_a_server_that_does_not_answer_costs_at_most_the_short_timeout(
    harness: CliHarness, silent_server: str
) -> None:
    began = time.monotonic()
    offered, errors = complete(harness, "mycli status ", url=silent_server)
    took = time.monotonic() - began

    assert (offered, errors) == ([], "")
    assert COMPLETION_TIMEOUT_SECONDS <= took < COMPLETION_TIMEOUT_SECONDS + 3


@pytest.mark.parametrize("command", ["locks release", "locks hold", "locks history"])
def test_a_lock_name_completes_from_the_locks_held_now(harness: CliHarness, command: str) -> None:
    holders = [
        harness.run("exec", "-d", "--lock", lock, "--", "sleep 30").stdout.strip()
        for lock in ("infra/prod", "staging")
    ]
    try:
        offered, errors = complete(harness, f"mycli {command} inf")
    finally:
        for holder in holders:
            harness.run("cancel", holder)

    assert (offered, errors) == (["infra/prod"], "")
