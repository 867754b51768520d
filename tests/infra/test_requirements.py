"""The standard CDK flow from a fresh clone works: `python -m venv`, `pip install -r
requirements.txt` (nothing else: this project's own packages are not installed), then
`cdk synth`. Slow (~40-60 s on two cores, most of it pip unpacking aws-cdk-lib; pip's
download cache is reused), so it is the only test that does it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CDK = ROOT / "node_modules" / ".bin" / "cdk"


def pinned(line: str) -> bool:
    return "==" in line and not any(op in line for op in (">", "<", "~", "!"))


def requirement_lines() -> list[str]:
    return [
        line.strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]


def normalized(lines: list[str]) -> set[str]:
    return {line.lower().replace("_", "-").replace(".", "-") for line in lines if line}


def test_requirements_are_exact_pins_of_the_cdk_app_dependencies() -> None:
    lines = requirement_lines()
    names = {line.split("==")[0].lower() for line in lines}

    assert all(pinned(line) for line in lines), lines
    assert {"aws-cdk-lib", "constructs", "cdk-nag"} <= names


@pytest.mark.slow
@pytest.mark.skipif(not CDK.exists(), reason="the CDK CLI is installed by scripts/setup (npm)")
def test_a_fresh_venv_with_requirements_txt_synthesizes_the_stack(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "-r", str(ROOT / "requirements.txt")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    frozen = subprocess.run(
        [str(venv / "bin" / "pip"), "freeze"], capture_output=True, text=True, check=True
    ).stdout
    assert normalized(frozen.splitlines()) == normalized(requirement_lines()), (
        "requirements.txt must pin exactly what it installs"
    )
    out = tmp_path / "cdk.out"
    env = {
        key: value for key, value in os.environ.items() if key not in ("VIRTUAL_ENV", "PYTHONPATH")
    }
    env |= {
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
    }

    synth = subprocess.run(
        [str(CDK), "synth", "--quiet", "--output", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert synth.returncode == 0, synth.stdout + synth.stderr
    template = json.loads((out / "Mycli.template.json").read_text())
    assert "ApiUrl" in template["Outputs"]
