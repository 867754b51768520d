"""The renderer's property, with generated values: whatever a value holds (newlines, quotes,
backslashes, `#`, `$(...)`, backticks, `;`, `*`, control characters but NUL), a real shell
running the rendered command receives exactly the value, compared byte for byte with what
`printf %s` prints, and runs nothing else (a canary file is never created)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mycli.playbooks.loader import LoadedPlaybook
from mycli.playbooks.render import param_values, render
from playbook_files import load_text

# A command using the param in one context, and what it prints for the value `v`.
CONTEXTS: list[tuple[object, object]] = [
    ("printf %s {{ params.v }}", lambda v: v),
    ("printf %s --x={{ params.v }}", lambda v: "--x=" + v),
    ('printf %s "<{{ params.v }}>"', lambda v: f"<{v}>"),
    ('printf %s "${UNSET:-{{ params.v }}}"', lambda v: v),
    ("printf %s ${UNSET:-{{ params.v }}}", lambda v: v),
    ('printf %s "$(printf %s {{ params.v }})"', lambda v: v.rstrip("\n")),
    ("cat <<EOF\n{{ params.v }}\nEOF", lambda v: v + "\n"),
    ("printf %s ok # {{ params.v }}", lambda v: "ok"),
    ("printf %s $(true)#{{ params.v }}", lambda v: "#" + v),
    (["printf", "%s", "{{ params.v }}"], lambda v: v),
    (["printf", "%s", "--x={{ params.v }}|'"], lambda v: f"--x={v}|'"),
]
FRAGMENTS = [
    "\n", "'", '"', "\\", "#", " # ", "$(touch CANARY)", "`touch CANARY`", ";", "*", "?",
    "$HOME", "${HOME}", "{{ params.v }}", "EOF", "\t", "\r", "~", "&", "|", ">CANARY", " ",
    "!", "%s", "\x1b[31m", "\x7f", "\x85", "}", ")", "$((1+1))",
]  # fmt: skip
CHARACTERS = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
VALUES = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(CHARACTERS, max_size=4)), max_size=12
).map("".join)


@pytest.fixture(scope="module")
def playbooks(tmp_path_factory: pytest.TempPathFactory) -> list[LoadedPlaybook]:
    root = tmp_path_factory.mktemp("property")
    return [
        load_text(
            root,
            f"description: x\ncommand: {json.dumps(command)}\n"
            "params:\n  v: {description: a value}\n",
            name=f"c{index}.yml",
        )
        for index, (command, _) in enumerate(CONTEXTS)
    ]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("work")
    (directory / "a-file-a-glob-would-list").touch()
    return directory


@pytest.mark.parametrize("shell", ["sh", "bash"])
@settings(max_examples=200, deadline=None, database=None)
@given(value=VALUES)
def test_the_command_receives_exactly_the_value_and_runs_nothing_else(
    playbooks: list[LoadedPlaybook], workdir: Path, shell: str, value: str
) -> None:
    # Given every context's command rendered for the value, in one script (NUL between them)
    renders = [render(loaded, param_values(loaded, [f"v={value}"])) for loaded in playbooks]
    script = "\nprintf '\\0'\n".join(rendered.command for rendered in renders)

    # When a real shell runs it with the params' variables
    result = subprocess.run(
        [shell, "-c", script],
        env={"PATH": os.environ["PATH"], **renders[0].variables},
        cwd=workdir,
        capture_output=True,
        check=False,
        timeout=20,
    )

    # Then each context printed exactly the value where it was used, and nothing else ran
    expected = b"\0".join(printed(value).encode() for _, printed in CONTEXTS)  # type: ignore[operator]
    assert (result.returncode, result.stdout) == (0, expected), result.stderr
    assert not (workdir / "CANARY").exists()
