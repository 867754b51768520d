"""`scripts/demo` end to end: it passes, and every command it shows can be pasted into a
shell to run the same command (no word of it is shell syntax: pasting `exit 3` unquoted
would close the user's shell)."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.embedded_only("the demo starts its own `mycli local up`"),
]

REPO = Path(__file__).resolve().parents[2]
SHELL_OPERATORS = {";", "&", "&&", "|", "||", "<", ">", ">>", "(", ")", ">&", "<&"}


def shell_tokens(line: str) -> list[str]:
    """The line as a POSIX shell reads it, operators as tokens of their own."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    return list(lexer)


def test_the_demo_passes_and_each_command_it_shows_pastes_as_that_command() -> None:
    environment = {key: value for key, value in os.environ.items() if "MYCLI" not in key}
    result = subprocess.run(
        [str(REPO / "scripts" / "demo")],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr.endswith("demo: ok\n")
    shown = [line[2:] for line in result.stderr.splitlines() if line.startswith("$ ")]
    assert [shell_tokens(line) for line in shown] == [
        ["mycli", "local", "up", "--background", "--port", "0"],
        ["mycli", "whoami"],
        [
            "mycli",
            "exec",
            "--lock",
            "demo",
            "--",
            'echo "deploying to demo..."; sleep 1; echo "step 2 failed" >&2; exit 3',
        ],
        ["mycli", "list"],
        ["mycli", "locks", "list"],
        ["mycli", "local", "down"],
    ]
    for line in shown:
        assert not SHELL_OPERATORS & set(shell_tokens(line)), line


def test_a_shown_command_reads_back_as_the_same_words_whatever_they_hold() -> None:
    words = ["it's", "a b", "", "$HOME", "plain-word_1.2:3", "exit 3; rm -rf ~", "a\nb", "*"]

    shown = subprocess.run(
        [str(REPO / "scripts" / "lib" / "shell-quote"), *words],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    assert shown.startswith("'it'\\''s' 'a b' '' '$HOME' plain-word_1.2:3 'exit 3; rm -rf ~'")
    assert shlex.split(shown) == words
