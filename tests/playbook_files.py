"""Writing playbooks in a test's directory, loading and rendering them as `mycli run` does."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from mycli.playbooks.loader import LoadedPlaybook, PlaybookError, find_playbook, load
from mycli.playbooks.render import Rendered, param_values, render


def write(root: Path, name: str, text: str) -> Path:
    directory = root / ".mycli" / "playbooks"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def load_text(tmp_path: Path, text: str, name: str = "task.yml") -> LoadedPlaybook:
    write(tmp_path, name, text)
    return load(find_playbook(Path(name).stem, tmp_path))


def refusal(tmp_path: Path, text: str, *params: str, name: str = "task.yml") -> str:
    """The one-line message a playbook (and its --param values) is refused with."""
    with pytest.raises(PlaybookError) as refused:
        loaded = load_text(tmp_path, text, name)
        render(loaded, param_values(loaded, params))
    assert refused.value.exit_code == 2
    return refused.value.message


def run_rendered(
    rendered: Rendered, cwd: Path | None = None, shell: str = "sh"
) -> subprocess.CompletedProcess[bytes]:
    """A real shell running the rendered command with the params' variables in its env, as
    the platform runs it (`sh -c`)."""
    return subprocess.run(
        [shell, "-c", rendered.command],
        env={"PATH": os.environ["PATH"], **rendered.env, **rendered.variables},
        cwd=cwd,
        capture_output=True,
        check=False,
        timeout=20,
    )


def sh(rendered: Rendered) -> str:
    """What a real shell prints for the rendered command (which must succeed)."""
    result = run_rendered(rendered)
    assert result.returncode == 0, result.stderr
    return result.stdout.decode()
