"""The real thing, the way a CDK user runs it from a fresh clone: `python -m venv`,
`pip install -r requirements.txt` (nothing else: this project's own packages are not
installed), then `cdk synth` with built-in validation and cdk-nag's AwsSolutions pack (any
unacknowledged finding fails it), then cfn-lint on the template. The venv is filled by uv
from the same pinned file (pip takes over a minute here to unpack aws-cdk-lib; uv reuses
the cache scripts/setup filled), and `pip freeze` checks it holds exactly those pins. It is
the only test that synthesizes through the CLI (~20-30 s)."""

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
def test_a_fresh_venv_synthesizes_a_stack_that_passes_cdk_nag_and_cfn_lint(
    tmp_path: Path,
) -> None:
    # Given a fresh venv holding only requirements.txt
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    uv = str(Path(sys.executable).parent / "uv")
    requirements = str(ROOT / "requirements.txt")
    install = subprocess.run(
        [
            uv,
            "pip",
            "install",
            "--quiet",
            "--python",
            str(venv / "bin" / "python"),
            "-r",
            requirements,
        ],
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

    # When `cdk synth` runs with it
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

    # Then it synthesizes with no cdk-nag finding, within CloudFormation's limits, lint-clean
    assert synth.returncode == 0, synth.stdout + synth.stderr
    report = json.loads((out / "validation-report.json").read_text())
    assert report["pluginReports"] == []
    template = out / "Mycli.template.json"
    parsed = json.loads(template.read_text())
    assert "ApiUrl" in parsed["Outputs"]
    assert len(parsed["Resources"]) < 350, "stay well under CloudFormation's 500-resource limit"
    assert template.stat().st_size < 500_000, "stay well under the 1 MB template limit"
    lint = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--ignore-checks",
            "W3005",
            "--",
            str(template),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
