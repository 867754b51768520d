"""Request shapes of the import routes (`mycli migrate`), beside api/schemas.py."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from orchestrator.api.schemas import Command, Name
from orchestrator.domain.imports import MAX_IMPORT_CHUNKS, MAX_IMPORT_OUTPUT_BYTES
from orchestrator.domain.models import (
    EMAIL_PATTERN,
    MAX_COMMAND_LENGTH,
    MAX_TIMEOUT_SECONDS,
    ExecutionStatus,
    Role,
    parse_iso,
)

_STRICT = ConfigDict(extra="forbid", strict=True)
TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"
KEY_HASH_PATTERN = r"^[0-9a-f]{64}$"
Email = Name
Short = Name


def _real_time(value: str) -> str:
    """A timestamp the pattern allows must also be a real moment (no month 13, no year 0)."""
    parse_iso(value).timestamp()  # ValueError (a 400) when it is not
    return value


Timestamp = Annotated[str, Field(pattern=TIMESTAMP_PATTERN), AfterValidator(_real_time)]


class ImportKey(BaseModel):
    """PUT /import/keys/{api_key_hash}: a key as the source platform stored it."""

    model_config = _STRICT

    user_email: Email = Field(pattern=EMAIL_PATTERN, max_length=254)
    role: Role = Field(strict=False)
    created_at: Timestamp
    revoked: bool = False
    revoked_at: Timestamp | None = None
    last_used: Timestamp | None = None


class ImportChunk(BaseModel):
    model_config = _STRICT

    offset: int = Field(ge=0, description="byte offset of the chunk's first byte")
    stream: Literal["stdout", "stderr"]
    timestamp: Timestamp
    data: str = Field(
        min_length=4,
        max_length=(MAX_IMPORT_OUTPUT_BYTES + 2) // 3 * 4,
        description="base64 of the exact bytes",
    )


class ImportOutput(BaseModel):
    """PUT /import/executions/{execution_id}/output: the next piece of a run's output."""

    model_config = _STRICT

    chunks: list[ImportChunk] = Field(
        min_length=1,
        max_length=MAX_IMPORT_CHUNKS,
        description=f"contiguous, at most {MAX_IMPORT_OUTPUT_BYTES} bytes in all",
    )


class ImportedRecord(BaseModel):
    """An execution's record as GET /executions/{id} shows it; only finished ones."""

    model_config = _STRICT

    execution_id: Short = Field(min_length=1, max_length=64)
    user_email: Email = Field(pattern=EMAIL_PATTERN, max_length=254)
    command: Command = Field(min_length=1, max_length=MAX_COMMAND_LENGTH)
    status: ExecutionStatus = Field(strict=False)
    started_at: Timestamp
    timeout_seconds: int = Field(ge=1, le=MAX_TIMEOUT_SECONDS)
    lock_name: Short | None = Field(default=None, max_length=128)
    upload_id: Short | None = Field(default=None, max_length=64)
    env_names: list[Short] = Field(default_factory=list, max_length=100)
    exit_code: int | None = None
    reason: str | None = Field(default=None, max_length=4096)
    task_ref: Short | None = Field(default=None, max_length=2048)
    log_stream_name: Short | None = Field(default=None, max_length=1024)
    finished_at: Timestamp | None = None
    updated_at: Timestamp | None = None
    request_id: Short | None = Field(default=None, max_length=256)
    cancelled_by: Short | None = Field(default=None, max_length=254)
    lock_released_by: Short | None = Field(default=None, max_length=254)
    log_truncated_at: int | None = Field(default=None, ge=0)
    stdin_upload_id: Short | None = Field(default=None, max_length=64)
    playbook: Short | None = Field(default=None, max_length=64)
    image: Short | None = Field(default=None, max_length=64)
    image_uri: Short | None = Field(default=None, max_length=2048)
    cpu: int | None = Field(default=None, ge=0)
    memory: int | None = Field(default=None, ge=0)
    secret_names: list[Short] = Field(default_factory=list, max_length=100)
    git_url: Short | None = Field(default=None, max_length=4096)
    git_ref: Short | None = Field(default=None, max_length=1024)
    git_subdir: Short | None = Field(default=None, max_length=1024)
    git_commit: Short | None = Field(default=None, max_length=64)
    git_secret: Short | None = Field(default=None, max_length=128)
    purpose: Literal["run", "check"] = "run"
    lock_wait_until: Timestamp | None = None
    dequeued_at: Timestamp | None = None
    start: Literal["warm", "cold"] | None = None


class ImportExecution(BaseModel):
    """PUT /import/executions/{execution_id}: the record, once all its output is imported."""

    model_config = _STRICT

    execution: ImportedRecord
    output_bytes: int = Field(ge=0, description="the size of the output imported before")


class ImportedOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    imported: bool = Field(description="false: the same record was already there (no change)")


class ImportedOutputOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    stored_bytes: int = Field(description="where the stored output now ends")
