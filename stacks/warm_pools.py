"""Warm pools' identities (docs/warm-runners.md): the pool manager's role and name, made
before any function (every function's environment names them), and the mailbox signer.

The pool manager signs each warm task's mailbox URL with the mailbox signer's credentials
(sts:AssumeRole, one hour), so the URL's end is known exactly; the signer may only read
mailboxes (s3:GetObject on `warm/*` of the CodeBucket), and only the pool manager's role may
assume it. The manager's function is named, not generated, so that the claimers (create,
task events) can invoke it by name without every function's environment depending on it."""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.data import WARM_PREFIX

# A mailbox URL lives as long as the signer's session (docs/warm-runners.md, Expiry).
SIGNER_SESSION = Duration.hours(1)


class WarmPoolIdentity(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, code_bucket: s3.IBucket) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.function_name = f"{stack.stack_name}-warm-pools"
        self.function_arn = stack.format_arn(
            service="lambda",
            resource="function",
            resource_name=self.function_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.manager_role = iam.Role(
            self,
            "ManagerRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="mycli WarmPoolManager: starts and stops warm tasks",
        )
        self.mailbox_signer = iam.Role(
            self,
            "MailboxSigner",
            assumed_by=iam.ArnPrincipal(self.manager_role.role_arn),
            description="mycli: signs warm tasks' mailbox URLs (reads warm/* only)",
            max_session_duration=SIGNER_SESSION,
            inline_policies={
                "ReadMailboxes": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            actions=["s3:GetObject"],
                            resources=[code_bucket.arn_for_objects(f"{WARM_PREFIX}*")],
                        )
                    ]
                )
            },
        )
