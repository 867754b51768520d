"""Every shell example of README.md and docs/*.md runs as written against one real
`mycli local up` (conventions: docs/development.md, "The docs-examples test")."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from deployment import MYCLI, LocalDeployment

pytestmark = pytest.mark.embedded_only("docs examples run against the embedded default")

ROOT = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).with_name("docs_block.sh")
SHELL_LANGUAGES = ("sh", "bash", "console")
FENCE = re.compile(r"^```(\S*)\s*$")
NOT_RUN = re.compile(r"^<!--\s*not-run:(.*?)-->\s*$")
EXITS = re.compile(r"#\s*exits\s+(\d+)\b")


@dataclass
class Block:
    where: str
    language: str
    lines: list[str]
    not_run: str | None

    def commands(self) -> list[tuple[str, int]]:
        """(command, documented exit code) for each command of the block."""
        lines = self.lines
        if self.language == "console":
            lines = [line[2:] for line in lines if line.startswith("$ ")]
        commands: list[tuple[str, int]] = []
        pending = ""
        for line in lines:
            if not pending and (not line.strip() or line.lstrip().startswith("#")):
                continue
            pending += line + "\n"
            if line.endswith("\\"):
                continue
            match = EXITS.search(line)
            commands.append((pending.rstrip("\n"), int(match.group(1)) if match else 0))
            pending = ""
        return commands


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks_of(path: Path) -> Iterator[Block]:
    lines = path.read_text().splitlines()
    index = 0
    while index < len(lines):
        fence = FENCE.match(lines[index])
        if fence is None:
            index += 1
            continue
        start = index
        index += 1
        while index < len(lines) and lines[index] != "```":
            index += 1
        language = fence.group(1)
        if language in SHELL_LANGUAGES:
            yield Block(
                f"{path.relative_to(ROOT)}:{start + 1}",
                language,
                lines[start + 1 : index],
                _marker_before(lines, start),
            )
        index += 1


def _marker_before(lines: list[str], fence: int) -> str | None:
    for line in reversed(lines[:fence]):
        if line.strip():
            marker = NOT_RUN.match(line.strip())
            return marker.group(1).strip() if marker else None
    return None


ALL_BLOCKS = [block for path in doc_files() for block in blocks_of(path)]
RUNNABLE = [block for block in ALL_BLOCKS if block.not_run is None]


def test_the_docs_have_runnable_examples() -> None:
    # Given the README and the guides / Then most of their shell examples are run below.
    assert len(RUNNABLE) >= 10, [block.where for block in RUNNABLE]
    assert any(block.where.startswith("README.md") for block in RUNNABLE)


def test_every_example_not_run_says_why() -> None:
    # Given the blocks marked not-run / Then each carries its reason.
    missing = [block.where for block in ALL_BLOCKS if block.not_run == ""]
    assert not missing, f"not-run without a reason: {missing}"


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDeployment]:
    home = tmp_path_factory.mktemp("docs-home")
    server = LocalDeployment(home)
    server.up()
    yield server
    server.down()
    # A block may start a server of its own (docs/outgrowing.md serves a backup): stop each.
    for state in home.rglob("server.json"):
        server.mycli("local", "down", "--data-dir", str(state.parent))


def test_every_shell_example_runs_as_documented(
    docs_server: LocalDeployment, tmp_path: Path
) -> None:
    # Given one real `mycli local up` and a temporary HOME and config
    env = {
        **docs_server.env,
        "HOME": str(docs_server.home),
        "PATH": f"{Path(MYCLI).parent}{os.pathsep}{os.environ['PATH']}",
        # A block that starts its own server (a restore) must not meet another on 8765.
        "MYCLI_LOCAL_PORT": "0",
    }
    env.pop("MYCLI_PROFILE", None)
    failures = []
    for number, block in enumerate(RUNNABLE):
        # When each block runs from an empty directory of its own, in one bash
        if docs_server.mycli("local", "status").returncode != 0:
            docs_server.up()  # a block before this one stopped it (the quick start does)
        work = tmp_path / f"block-{number}"
        commands = work / ".commands"
        commands.mkdir(parents=True)
        for index, (command, exit_code) in enumerate(block.commands()):
            (commands / f"{index:03d}.cmd").write_text(command + "\n")
            (commands / f"{index:03d}.exit").write_text(f"{exit_code}\n")
        try:
            result = subprocess.run(
                ["bash", "-e", str(RUNNER), str(commands)],
                check=False,
                cwd=work,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=30,
            )
        except subprocess.TimeoutExpired as timeout:
            failures.append(f"{block.where}: still running after 30 s: {timeout.stderr!r}")
            continue
        # Then every command exits with the code the docs give it
        if result.returncode != 0:
            failures.append(f"{block.where}:\n{result.stderr[-2000:]}")
    assert not failures, "\n\n".join(failures)
