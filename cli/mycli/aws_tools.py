"""What `mycli init`, `init --synth-only` and `destroy` need on this machine, checked before
anything runs: one line naming everything that is missing and the command that installs it
(`./scripts/setup --aws`), never a traceback from the CDK app half-way."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

from mycli.errors import CliError

SETUP_COMMAND = "./scripts/setup --aws"
# (module, distribution): the AWS SDK mycli calls, and what the CDK app (app.py) imports.
AWS_SDK = (("boto3", "boto3"),)
CDK_APP = (("aws_cdk", "aws-cdk-lib"), ("constructs", "constructs"), ("cdk_nag", "cdk-nag"))


class PrerequisiteMissing(CliError):
    pass


def require_tools(app_dir: Path, command: str, *, needs_aws_sdk: bool = True) -> list[str]:
    """The CDK CLI to run once every prerequisite is there; else PrerequisiteMissing naming
    them all. The CDK app runs as `python3 app.py` with this interpreter's directory first
    on PATH (aws_deploy.CdkRunner), so its packages must import here."""
    modules = (AWS_SDK if needs_aws_sdk else ()) + CDK_APP
    packages = [dist for module, dist in modules if importlib.util.find_spec(module) is None]
    missing = []
    if packages:
        missing.append(f"the Python packages {', '.join(packages)} (for {sys.executable})")
    if not shutil.which("node"):
        missing.append("Node.js 20+ with npm (`node` is not on PATH: install it first)")
    cdk = find_cdk_cli(app_dir)
    if cdk is None:
        missing.append("the CDK CLI (npm aws-cdk, pinned in package.json)")
    if missing:
        raise PrerequisiteMissing(
            f"`{command}` needs {'; '.join(missing)}: install them with `{SETUP_COMMAND}` "
            f"in {app_dir}"
        )
    return cdk or []


def find_cdk_cli(app_dir: Path) -> list[str] | None:
    """The project's pinned CDK CLI (node_modules), else a `cdk` on PATH, else None."""
    local = app_dir / "node_modules" / ".bin" / "cdk"
    if local.exists():
        return [str(local)]
    on_path = shutil.which("cdk")
    return [on_path] if on_path else None
