"""`python -m twin.synth_child OUT`: synthesize the MycliStack with cdk.json's context (no
bundling, no cdk-nag: the template is what `cdk synth` deploys) and write it to OUT."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from twin.template import ROOT


def main(out: Path) -> None:
    import aws_cdk as cdk

    sys.path.insert(0, str(ROOT / "lambda_src"))
    sys.path.insert(0, str(ROOT))
    from app import STACK_NAME
    from stacks.platform_stack import MycliStack

    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    app = cdk.App(
        context={**context, "aws:cdk:bundling-stacks": []},
        builtin_cloud_formation_validation=False,
    )
    stack = MycliStack(app, STACK_NAME)
    assembly = app.synth()
    template = assembly.get_stack_artifact(stack.artifact_id).template
    out.write_text(json.dumps(template))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
