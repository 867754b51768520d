"""What each function may do in the CodeBucket: uploads, a run's manifest, its output, the
run agent's result and warm tasks' mailboxes. Object keys are made at run time (per user,
per execution, per warm task), so each grant is limited to its prefix and, where a key's
last part is fixed, to that name."""

from __future__ import annotations

from aws_cdk import aws_s3 as s3

from orchestrator.adapters.aws.task_layout import MANIFEST_NAME, RUNS_PREFIX, UPLOADS_PREFIX
from orchestrator.agent.layout import RESULT_NAME
from stacks.access import Access
from stacks.data import WARM_PREFIX
from stacks.functions import PythonFunction

# Under runs/<execution id>/ (orchestrator.output_segments.output_prefix).
OUTPUT_KEYS = f"{RUNS_PREFIX}*/output/*"
RESULT_KEYS = f"{RUNS_PREFIX}*/output/{RESULT_NAME}"
MANIFEST_KEYS = f"{RUNS_PREFIX}*/{MANIFEST_NAME}"
# warm/<task id>/assignment: made at run time (the task id is random).
MAILBOX_KEYS = f"{WARM_PREFIX}*"


def grant_code_bucket(function: PythonFunction, access: Access, bucket: s3.IBucket) -> None:
    uploads = bucket.arn_for_objects(f"{UPLOADS_PREFIX}*")
    if access.sign_upload_puts:
        function.allow(["s3:PutObject"], [uploads])
    if access.check_uploads:
        function.allow(["s3:GetObject"], [uploads])
    if access.write_run_inputs:
        # PutObject: the manifest, and the output slot (a presigned POST acts with the
        # signer's rights, limited by its policy to runs/<id>/output/).
        function.allow(["s3:PutObject"], [bucket.arn_for_objects(f"{RUNS_PREFIX}*")])
        function.allow(["s3:GetObject"], [bucket.arn_for_objects(MANIFEST_KEYS)])
    # Reads list before they get: S3 answers a GET of a missing key with 403 unless the
    # caller may list, so listing tells "not there yet" from a missing permission.
    if access.read_output:
        function.allow(["s3:ListBucket"], [bucket.bucket_arn], StringLike={"s3:prefix": "runs/*"})
        function.allow(["s3:GetObject"], [bucket.arn_for_objects(OUTPUT_KEYS)])
    if access.import_output:
        function.allow(["s3:ListBucket"], [bucket.bucket_arn], StringLike={"s3:prefix": "runs/*"})
        function.allow(["s3:GetObject", "s3:PutObject"], [bucket.arn_for_objects(OUTPUT_KEYS)])
    if access.read_run_results:
        function.allow(
            ["s3:ListBucket"], [bucket.bucket_arn], StringLike={"s3:prefix": RESULT_KEYS}
        )
        function.allow(["s3:GetObject"], [bucket.arn_for_objects(RESULT_KEYS)])
    if access.write_mailboxes:
        # The pool manager's `waiting`, then a claimer's assignment (docs/warm-runners.md).
        function.allow(["s3:PutObject"], [bucket.arn_for_objects(MAILBOX_KEYS)])
