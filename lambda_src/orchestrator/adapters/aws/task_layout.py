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
4. `unpack` (python image) unpacks the upload safely and within the deployment's limits
   (orchestrator/unpack.py, the script the local runner runs too; see unpack_command).
5. `command` runs the command (read from the manifest, never from the overrides) with the
   env loaded and stdin from the stdin object or /dev/null.

A run with secrets also has its output masked: their values travel sealed with the env (and
once more, NUL-separated, for the masker); `prepare` unseals both and makes a FIFO; `mask`
(python image, orchestrator/masking.py) starts once prepare has succeeded, reads the FIFO
and writes the masked output to its own log stream, which is the run's log; the command
writes everything it prints into the FIFO, and when it ends waits (a few seconds at most)
for the masker to finish before its exit code ends the task.

ECS accepts at most 8,192 characters of container overrides, so commands and env values
travel in the manifest (an S3 object under runs/), never in the overrides themselves."""

from __future__ import annotations

import json
from typing import Any

from orchestrator.unpack import Limits

COMMAND_CONTAINER = "command"
FETCH_CONTAINER = "fetch"
PREPARE_CONTAINER = "prepare"
UNPACK_CONTAINER = "unpack"
MASK_CONTAINER = "mask"
CLONE_CONTAINER = "clone"
SETUP_CONTAINERS = (FETCH_CONTAINER, PREPARE_CONTAINER, CLONE_CONTAINER, UNPACK_CONTAINER)
WORKSPACE = "/mycli"
ARCHIVE_PATH = f"{WORKSPACE}/upload.tar.gz"
ENV_FILE = f"{WORKSPACE}/env"
STDIN_FILE = f"{WORKSPACE}/stdin"
COMMAND_FILE = f"{WORKSPACE}/command"
WORK_DIR = f"{WORKSPACE}/work"
MASK_VALUES_FILE = f"{WORKSPACE}/mask-values"
OUTPUT_FIFO = f"{WORKSPACE}/output"
MASKED_FILE = f"{WORKSPACE}/masked"
# How long the command's container waits for the masker to write the last output.
MASK_DRAIN_TENTHS = 50
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
# command from its file (no shell variable of ours can clash with the user's env). With
# secrets (the FIFO exists), the output goes through the masker: the command runs as a
# child (SIGTERM is passed on), then the wrapper waits for the masker and exits with the
# command's code.
COMMAND_WRAPPER = (
    f'if [ -f {GIT_FILES}/subdir ]; then cd "./$(cat {GIT_FILES}/subdir)" || exit 125; fi; '
    f"if [ -f {ENV_FILE} ]; then set -a; . {ENV_FILE}; set +a; rm -f {ENV_FILE}; fi; "
    f"if [ -p {OUTPUT_FIFO} ]; then "
    f"if [ -f {STDIN_FILE} ]; then /bin/sh {COMMAND_FILE} < {STDIN_FILE} > {OUTPUT_FIFO} 2>&1 & "
    f"else /bin/sh {COMMAND_FILE} < /dev/null > {OUTPUT_FIFO} 2>&1 & fi; "
    "_mycli_pid=$!; trap 'kill -TERM $_mycli_pid 2>/dev/null' TERM INT HUP; "
    "wait $_mycli_pid; _mycli_code=$?; "
    "while kill -0 $_mycli_pid 2>/dev/null; do wait $_mycli_pid; _mycli_code=$?; done; "
    f"_mycli_i=0; while [ ! -f {MASKED_FILE} ] && [ $_mycli_i -lt {MASK_DRAIN_TENTHS} ]; "
    "do sleep 0.1; _mycli_i=$((_mycli_i + 1)); done; "
    "exit $_mycli_code; fi; "
    f"if [ -f {STDIN_FILE} ]; then exec /bin/sh {COMMAND_FILE} < {STDIN_FILE}; fi; "
    f"exec /bin/sh {COMMAND_FILE} < /dev/null"
)


def overrides_size(container_overrides: list[dict[str, Any]]) -> int:
    """How many characters ECS counts for these overrides (their JSON, spaces included:
    a little more than ECS's own count, never less)."""
    return len(json.dumps({"containerOverrides": container_overrides}))


# The unpack container: `python3 -I -c SOURCE` (SOURCE: orchestrator/unpack.py), isolated so
# nothing of the environment or the working directory is imported.
UNPACK_ENTRY_POINT = ["python3", "-I", "-c"]


def unpack_command(limits: Limits, workspace: str = WORKSPACE) -> list[str]:
    """The unpack container's arguments: the archive, the working directory, the limits."""
    archive, work = (
        ARCHIVE_PATH.replace(WORKSPACE, workspace),
        WORK_DIR.replace(WORKSPACE, workspace),
    )
    return [archive, work, *limits.arguments()]


def prepare_script(workspace: str = WORKSPACE) -> str:
    """The prepare container's shell script (the aws-cli image; works in bash, dash and
    busybox sh). Unseal every piece of the env, and of a git credential, with this
    execution's grant, then retire it.

    No pipelines: every step's status is its own, and `set -e` stops at the first failure,
    so a failed decrypt fails the step (and the command never runs). The env file appears
    only once complete. With secrets, the masker's values (sealed-mask/) are unsealed the
    same way and the output FIFO is made; a git credential (sealed-git/) becomes
    git/credential, readable by its owner only, for the clone step."""
    sealed = f"{workspace}/sealed"
    sealed_mask = f"{workspace}/sealed-mask"
    sealed_git = f"{workspace}/sealed-git"

    def unseal(pieces: str, target: str) -> str:
        return (
            f": > {target}.part; "
            f"for chunk in {pieces}/*; do "
            'aws kms decrypt --ciphertext-blob "fileb://$chunk" '
            f'--encryption-context "execution_id=${EXECUTION_ID_VARIABLE}" '
            '--grant-tokens "$token" '
            f"--query Plaintext --output text > {workspace}/chunk.b64; "
            f"base64 -d {workspace}/chunk.b64 >> {target}.part; "
            "done; "
            f"mv {target}.part {target}; "
        )

    return (
        "set -e; (set -o pipefail) 2>/dev/null && set -o pipefail; "
        f"if [ -f {workspace}/grant-token ]; then "
        f"token=$(cat {workspace}/grant-token); "
        f"if [ -d {sealed} ]; then "
        + unseal(sealed, f"{workspace}/env")
        + "fi; "
        + f"if [ -d {sealed_mask} ]; then "
        + unseal(sealed_mask, f"{workspace}/mask-values")
        + f"mkfifo {workspace}/output; fi; "
        + f"if [ -d {sealed_git} ]; then (umask 077; mkdir -p {workspace}/git; "
        + unseal(sealed_git, f"{workspace}/git/credential")
        + "); fi; "
        f"rm -rf {sealed} {sealed_mask} {sealed_git} {workspace}/chunk.b64 "
        f"{workspace}/grant-token; "
        'aws kms retire-grant --grant-token "$token" '
        '|| echo "mycli: could not retire the env grant (it only opens this run\'s env)" >&2; '
        'echo "mycli: env values unsealed" >&2; '
        "fi"
    )
