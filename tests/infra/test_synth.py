"""The real thing: `npx cdk synth` with built-in validation and cdk-nag's AwsSolutions pack
(any unacknowledged finding fails it), then cfn-lint on the template."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CDK = ROOT / "node_modules" / ".bin" / "cdk"


@pytest.mark.skipif(not CDK.exists(), reason="the CDK CLI is installed by scripts/setup (npm)")
def test_cdk_synth_passes_cdk_nag_and_cfn_lint(tmp_path: Path) -> None:
    out = tmp_path / "cdk.out"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
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
    report = json.loads((out / "validation-report.json").read_text())
    assert report["pluginReports"] == []
    template = out / "Mycli.template.json"
    resources = json.loads(template.read_text())["Resources"]
    assert len(resources) < 300, "stay well under CloudFormation's 500-resource limit"
    assert template.stat().st_size < 400_000, "stay well under the 1 MB template limit"
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
    shutil.rmtree(out, ignore_errors=True)
