"""The CDK app: the mycli stack, checked by cdk-nag's AwsSolutions pack (errors fail synth).

Run through the CDK CLI (`npx cdk synth`), which applies cdk.json's feature flags and context."""

from __future__ import annotations

import sys
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "lambda_src"))

from stacks.platform_stack import MycliStack  # noqa: E402

STACK_NAME = "Mycli"


def build_app(app: cdk.App) -> MycliStack:
    stack = MycliStack(
        app, STACK_NAME, description="mycli: a centralized execution platform on ECS Fargate"
    )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stack


if __name__ == "__main__":
    application = cdk.App()
    build_app(application)
    application.synth()
