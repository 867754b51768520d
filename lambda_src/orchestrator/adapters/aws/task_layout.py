"""How the executor task definitions are laid out: shared by the ECS runner, the task-event
parser and the CDK stack, so names cannot drift apart."""

from __future__ import annotations

COMMAND_CONTAINER = "command"
FETCH_CONTAINER = "fetch"  # the upload task: copies the archive from S3 with the task role
UNPACK_CONTAINER = "unpack"  # then unpacks it safely (orchestrator/unpack.py)
WORKSPACE = "/mycli"
ARCHIVE_PATH = f"{WORKSPACE}/upload.tar.gz"
WORK_DIR = f"{WORKSPACE}/work"
UPLOAD_KEY_VARIABLE = "MYCLI_UPLOAD_KEY"
UPLOADS_PREFIX = "uploads/"
FETCH_FAILED_REASON = "could not fetch the upload from S3"
