"""How the executor task definitions are laid out: shared by the ECS runner, the task-event
parser and the CDK stack, so names cannot drift apart.

A plain command runs in the plain task definition. A command with an upload or with env
values runs in the prepared one: its `prepare` container copies the upload from S3 and
unseals the env (KMS, so values never appear in RunTask's request, ECS's task record or
CloudTrail), its `unpack` container unpacks the upload safely, then `command` runs."""

from __future__ import annotations

COMMAND_CONTAINER = "command"
PREPARE_CONTAINER = "prepare"
UNPACK_CONTAINER = "unpack"
WORKSPACE = "/mycli"
ARCHIVE_PATH = f"{WORKSPACE}/upload.tar.gz"
ENV_FILE = f"{WORKSPACE}/env"
WORK_DIR = f"{WORKSPACE}/work"
UPLOAD_KEY_VARIABLE = "MYCLI_UPLOAD_KEY"
SEALED_ENV_VARIABLE = "MYCLI_SEALED_ENV"
COMMAND_VARIABLE = "MYCLI_COMMAND"
EXECUTION_ID_VARIABLE = "MYCLI_EXECUTION_ID"
UPLOADS_PREFIX = "uploads/"
PREPARE_FAILED_REASON = "could not prepare the task (fetch the upload or unseal the env)"
# KMS encrypts at most 4 KB directly.
MAX_SEALED_ENV_BYTES = 4096

# The command container of the prepared task: load the unsealed env, delete it, run.
COMMAND_WRAPPER = (
    f"if [ -f {ENV_FILE} ]; then set -a; . {ENV_FILE}; set +a; rm -f {ENV_FILE}; fi; "
    f'exec sh -c "${COMMAND_VARIABLE}"'
)


def prepare_script(bucket: str) -> str:
    """The prepare container's shell script (the aws-cli image): fetch, unseal."""
    return (
        f"set -e; mkdir -p {WORK_DIR}; "
        f'if [ -n "${UPLOAD_KEY_VARIABLE}" ]; then '
        f'aws s3 cp --only-show-errors "s3://{bucket}/${UPLOAD_KEY_VARIABLE}" {ARCHIVE_PATH}; fi; '
        f'if [ -n "${SEALED_ENV_VARIABLE}" ]; then '
        f'echo "${SEALED_ENV_VARIABLE}" | base64 -d > /tmp/sealed; '
        f"aws kms decrypt --ciphertext-blob fileb:///tmp/sealed "
        f'--encryption-context "execution_id=${EXECUTION_ID_VARIABLE}" '
        f"--query Plaintext --output text | base64 -d > {ENV_FILE}; rm -f /tmp/sealed; fi"
    )
