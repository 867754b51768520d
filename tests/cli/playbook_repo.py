"""A repository of playbooks for the CLI tests: the greet playbook, the current directory
inside it, and the executions the local server recorded."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from cli_harness import CliHarness

GREET = """
description: Greet someone
command: echo "$GREETING" {{ params.who }}; exit {{ params.code }}
lock: greet/{{ params.who }}
timeout: 60
env:
  GREETING: hello
params:
  who: {description: who to greet, default: world}
  code: {description: exit code, default: "0", pattern: "[0-9]{1,3}"}
"""


def make_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository with playbooks, the current directory a subdirectory of it."""
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    write(root, "greet.yml", GREET)
    monkeypatch.chdir(root / "src")
    return root


def write(root: Path, name: str, text: str) -> None:
    directory = root / ".mycli" / "playbooks"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(textwrap.dedent(text).lstrip("\n"))


def executions(harness: CliHarness) -> list[dict[str, object]]:
    items: list[dict[str, object]] = json.loads(harness.run("list", "-o", "json").stdout)["items"]
    return items
