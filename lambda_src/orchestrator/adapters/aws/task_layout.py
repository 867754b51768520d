"""How the executor task definitions are laid out: shared by the ECS runner, the task-event
parser and the CDK stack, so names cannot drift apart.

A short command with no upload, no env values and no stdin runs in the plain task
definition, the command in ECS's container overrides. Anything else runs in the prepared
one, whose steps run in order, each only if the one before succeeded:

1. `fetch` (python image) downloads this run's manifest through a presigned GET URL made by
   the create function, then the upload and the stdin object through the presigned URLs the
   manifest holds. The task role grants no S3 access at all.
2. `prepare` (aws-cli image) unseals the env values (and a git credential) with KMS,
   allowed only by a grant the create function made for this execution's encryption
   context, then retires that grant.
3. `clone` (git image) checks the run's git source out into the working directory (see
   orchestrator.git_checkout; nothing to do without one), printing the commit in its log.
4. `unpack` (python image) unpacks the upload safely.
5. `command` runs the command (read from the manifest, never from the overrides) with the
   env loaded and stdin from the stdin object or /dev/null.

ECS accepts at most 8,192 characters of container overrides, so commands and env values
travel in the manifest (an S3 object under runs/), never in the overrides themselves."""

from __future__ import annotations

import json
from typing import Any

COMMAND_CONTAINER = "command"
FETCH_CONTAINER = "fetch"
PREPARE_CONTAINER = "prepare"
UNPACK_CONTAINER = "unpack"
CLONE_CONTAINER = "clone"
SETUP_CONTAINERS = (FETCH_CONTAINER, PREPARE_CONTAINER, CLONE_CONTAINER, UNPACK_CONTAINER)
WORKSPACE = "/mycli"
ARCHIVE_PATH = f"{WORKSPACE}/upload.tar.gz"
ENV_FILE = f"{WORKSPACE}/env"
STDIN_FILE = f"{WORKSPACE}/stdin"
COMMAND_FILE = f"{WORKSPACE}/command"
WORK_DIR = f"{WORKSPACE}/work"
GIT_FILES = f"{WORKSPACE}/git"  # url, ref, subdir, and (unsealed, until read) credential
GIT_SCRATCH = f"{WORKSPACE}/git-scratch"
MANIFEST_URL_VARIABLE = "MYCLI_MANIFEST_URL"
EXECUTION_ID_VARIABLE = "MYCLI_EXECUTION_ID"
UPLOADS_PREFIX = "uploads/"
RUNS_PREFIX = "runs/"
# KMS encrypts at most 4 KB directly: larger env files are sealed in pieces of this size.
MAX_SEALED_CHUNK_BYTES = 4096
# ECS refuses container overrides longer than this (JSON formatting included).
MAX_OVERRIDES_CHARS = 8192

# The command container of the prepared task: load the unsealed env, delete it, run the
# command from its file (no shell variable of ours can clash with the user's env).
COMMAND_WRAPPER = (
    f'if [ -f {GIT_FILES}/subdir ]; then cd "./$(cat {GIT_FILES}/subdir)" || exit 125; fi; '
    f"if [ -f {ENV_FILE} ]; then set -a; . {ENV_FILE}; set +a; rm -f {ENV_FILE}; fi; "
    f"if [ -f {STDIN_FILE} ]; then exec /bin/sh {COMMAND_FILE} < {STDIN_FILE}; fi; "
    f"exec /bin/sh {COMMAND_FILE} < /dev/null"
)


def overrides_size(container_overrides: list[dict[str, Any]]) -> int:
    """How many characters ECS counts for these overrides (their JSON, spaces included:
    a little more than ECS's own count, never less)."""
    return len(json.dumps({"containerOverrides": container_overrides}))


def prepare_script(workspace: str = WORKSPACE) -> str:
    """The prepare container's shell script (the aws-cli image; works in bash, dash and
    busybox sh). Unseal every piece of the env, and of a git credential, with this
    execution's grant, then retire it.

    No pipelines: every step's status is its own, and `set -e` stops at the first failure,
    so a failed decrypt fails the step (and the command never runs). The env file and the
    credential file appear only once complete."""
    git_files = f"{workspace}/git"
    return (
        "set -e; (set -o pipefail) 2>/dev/null && set -o pipefail; umask 077; "
        f"if [ -f {workspace}/grant-token ]; then "
        f"token=$(cat {workspace}/grant-token); "
        "unseal() { "
        ': > "$2.part"; '
        'for chunk in "$1"/*; do '
        'aws kms decrypt --ciphertext-blob "fileb://$chunk" '
        f'--encryption-context "execution_id=${EXECUTION_ID_VARIABLE}" '
        '--grant-tokens "$token" '
        f"--query Plaintext --output text > {workspace}/chunk.b64; "
        f'base64 -d {workspace}/chunk.b64 >> "$2.part"; '
        "done; "
        'mv "$2.part" "$2"; rm -rf "$1"; '
        "}; "
        f"if [ -d {workspace}/sealed ]; then unseal {workspace}/sealed {workspace}/env; fi; "
        f"if [ -d {workspace}/sealed-git ]; then mkdir -p {git_files}; "
        f"unseal {workspace}/sealed-git {git_files}/credential; fi; "
        f"rm -f {workspace}/chunk.b64 {workspace}/grant-token; "
        'aws kms retire-grant --grant-token "$token" '
        '|| echo "mycli: could not retire the env grant (it only opens this run\'s env)" >&2; '
        'echo "mycli: env values unsealed" >&2; '
        "fi"
    )
