"""`mycli init`, `init --synth-only` and `destroy` name everything they miss, in one line with
the command that installs it, before running anything: real `mycli` processes, each with one
prerequisite taken away (a PATH without node, an app without the CDK CLI, an interpreter
holding only what `./scripts/setup` without --aws installs)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SETUP_HINT = "install them with `./scripts/setup --aws` in "


def executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


@pytest.fixture(scope="module")
def runtime_only_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding mycli's runtime dependencies and nothing else (no boto3, no aws-cdk-lib),
    installed by uv from the cache scripts/setup filled; mycli itself comes from PYTHONPATH."""
    venv = tmp_path_factory.mktemp("runtime") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    uv = Path(sys.executable).parent / "uv"
    python = venv / "bin" / "python"
    install = [str(uv), "pip", "install", "--offline", "--quiet", "--python", str(python)]
    subprocess.run([*install, *dependencies], check=True, capture_output=True)
    return python


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    """A CDK app directory whose pinned CDK CLI is installed (it must never run here)."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "cdk.json").write_text('{"app": "python3 app.py"}')
    executable(app / "node_modules" / ".bin" / "cdk", "#!/bin/sh\necho cdk ran >&2\nexit 99\n")
    return app


@pytest.fixture
def bin_with_node(tmp_path: Path) -> Path:
    """A PATH directory with a `node` (only looked up: nothing runs before the checks pass)."""
    executable(tmp_path / "bin" / "node", "#!/bin/sh\nexit 0\n")
    return tmp_path / "bin"


def mycli(
    python: Path | str, path: str, *args: str, home: Path
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": path,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "cli"), str(ROOT / "lambda_src")]),
        "XDG_CONFIG_HOME": str(home / "config"),
        "HOME": str(home),
        "MYCLI_PROFILE": "",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    return subprocess.run(
        [str(python), "-m", "mycli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "cdk ran" not in result.stderr
    [line] = result.stderr.splitlines()
    return line


def test_without_the_aws_tools_synth_only_names_the_cdk_app_packages_and_the_setup_command(
    runtime_only_python: Path, app_dir: Path, bin_with_node: Path, tmp_path: Path
) -> None:
    # Given an interpreter with what `./scripts/setup` (no --aws) installs
    # When `mycli init --synth-only` runs (it used to end in ModuleNotFoundError: aws_cdk)
    result = mycli(
        runtime_only_python,
        str(bin_with_node),
        "init",
        "--synth-only",
        "--app-dir",
        str(app_dir),
        home=tmp_path,
    )

    # Then one line names the CDK app's packages (synthesizing needs no boto3) and the fix
    assert one_error_line(result) == (
        "mycli: error: `mycli init --synth-only` needs the Python packages aws-cdk-lib, "
        f"constructs, cdk-nag (for {runtime_only_python}): {SETUP_HINT}{app_dir}"
    )


@pytest.mark.parametrize("command", [["init", "--no-doctor"], ["destroy", "--yes"]])
def test_deploying_and_destroying_also_name_boto3(
    runtime_only_python: Path,
    app_dir: Path,
    bin_with_node: Path,
    tmp_path: Path,
    command: list[str],
) -> None:
    result = mycli(
        runtime_only_python,
        str(bin_with_node),
        *command,
        "--app-dir",
        str(app_dir),
        home=tmp_path,
    )

    assert one_error_line(result) == (
        f"mycli: error: `mycli {command[0]}` needs the Python packages boto3, aws-cdk-lib, "
        f"constructs, cdk-nag (for {runtime_only_python}): {SETUP_HINT}{app_dir}"
    )


def test_a_path_without_node_is_named(app_dir: Path, tmp_path: Path) -> None:
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir()

    result = mycli(
        sys.executable,
        str(empty_bin),
        "init",
        "--synth-only",
        "--app-dir",
        str(app_dir),
        home=tmp_path,
    )

    assert one_error_line(result) == (
        "mycli: error: `mycli init --synth-only` needs Node.js 20+ with npm (`node` is not on "
        f"PATH: install it first): {SETUP_HINT}{app_dir}"
    )


def test_an_app_without_the_cdk_cli_names_it(bin_with_node: Path, tmp_path: Path) -> None:
    app = tmp_path / "bare-app"
    app.mkdir()
    (app / "cdk.json").write_text('{"app": "python3 app.py"}')

    result = mycli(sys.executable, str(bin_with_node), "init", "--app-dir", str(app), home=tmp_path)

    assert one_error_line(result) == (
        "mycli: error: `mycli init` needs the CDK CLI (npm aws-cdk, pinned in package.json): "
        f"{SETUP_HINT}{app}"
    )
    assert not (tmp_path / "config").exists()
