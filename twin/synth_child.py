"""`python -m twin.synth_child OUT [CONTEXT_JSON]`: synthesize the MycliStack with cdk.json's
context, CONTEXT_JSON's values over it (no bundling, no cdk-nag: the template is what
`cdk synth` deploys) and write it to OUT."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from twin.template import ROOT


def main(out: Path, overrides: dict[str, str]) -> None:
    import aws_cdk as cdk

    sys.path.insert(0, str(ROOT / "lambda_src"))
    sys.path.insert(0, str(ROOT))
    from app import STACK_NAME
    from stacks.platform_stack import MycliStack

    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    app = cdk.App(
        context={**context, **overrides, "aws:cdk:bundling-stacks": []},
        builtin_cloud_formation_validation=False,
    )
    stack = MycliStack(app, STACK_NAME)
    assembly = app.synth()
    template = assembly.get_stack_artifact(stack.artifact_id).template
    out.write_text(json.dumps(template))


if __name__ == "__main__":
    main(Path(sys.argv[1]), json.loads(sys.argv[2]) if len(sys.argv) > 2 else {})
