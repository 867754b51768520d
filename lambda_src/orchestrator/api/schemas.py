"""Request and response shapes: validated by Powertools, and the source of docs/openapi.json."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse, OpenAPIResponseHeader
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from orchestrator.domain.git_sources import (
    MAX_GIT_REF_LENGTH,
    MAX_GIT_SUBDIR_LENGTH,
    MAX_GIT_URL_LENGTH,
)
from orchestrator.domain.images import MAX_CPU_UNITS, MAX_MEMORY_MIB
from orchestrator.domain.models import (
    EMAIL_PATTERN,
    ENV_NAME_PATTERN,
    IMAGE_NAME_PATTERN,
    LOCK_NAME_PATTERN,
    MAX_COMMAND_LENGTH,
    MAX_ENV_ENTRIES,
    MAX_ENV_TOTAL_BYTES,
    MAX_ENV_VALUE_LENGTH,
    MAX_SECRET_DESCRIPTION_LENGTH,
    MAX_SECRET_IMAGES,
    MAX_SECRET_VALUE_BYTES,
    MAX_SECRETS_PER_EXECUTION,
    MAX_TIMEOUT_SECONDS,
    PLAYBOOK_NAME_PATTERN,
    SECRET_NAME_PATTERN,
    ExecutionStatus,
    Role,
    TextKind,
    env_size,
    text_problem,
)
from orchestrator.text_rules import text_validator

# Bodies are JSON: a number is never taken for a string or a boolean for a number.
_STRICT = ConfigDict(extra="forbid", strict=True, defer_build=True)
UPLOAD_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
# Response models only document the API (docs/openapi.json); building their validators
# waits until the document is generated, which keeps them out of a Lambda cold start.
_DOCUMENTED = ConfigDict(defer_build=True)
_ENV_NAME = re.compile(ENV_NAME_PATTERN)
_SECRET_NAME = re.compile(SECRET_NAME_PATTERN)
_DECIMAL_INTEGER = re.compile(r"[0-9]+")
_DECIMAL_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")


def _query_value(pattern: re.Pattern[str], words: str) -> BeforeValidator:
    """Query values arrive as text: only `pattern` (ASCII) is read as a number or a boolean."""

    def check(value: Any) -> Any:
        if isinstance(value, str) and not pattern.fullmatch(value):
            raise ValueError(f"must be {words}")
        return value

    return BeforeValidator(check)


Name = Annotated[str, text_validator(TextKind.NAME)]
Command = Annotated[str, text_validator(TextKind.COMMAND)]
# Query parameters that are numbers: the validators go with the route's Query(...).
QUERY_INTEGER = _query_value(_DECIMAL_INTEGER, "a whole number in decimal digits")
QUERY_NUMBER = _query_value(_DECIMAL_NUMBER, "a number in decimal digits")
_BOOLEAN = re.compile(r"true|false")
QUERY_BOOLEAN = _query_value(_BOOLEAN, "true or false")


class CreateExecution(BaseModel):
    """POST /executions."""

    model_config = _STRICT

    command: Command = Field(
        min_length=1,
        max_length=MAX_COMMAND_LENGTH,
        description="shell string; no NUL or control characters but tab, newline and CR",
    )
    lock: Name | None = Field(default=None, pattern=LOCK_NAME_PATTERN)
    env: dict[str, str] = Field(
        default_factory=dict,
        repr=False,  # values never in a repr (Powertools' debug log prints the parsed body)
        max_length=MAX_ENV_ENTRIES,
        description=f"names match {ENV_NAME_PATTERN}; values (no NUL) are never stored",
    )
    timeout_seconds: int | None = Field(default=None, ge=1, le=MAX_TIMEOUT_SECONDS)
    upload_id: str | None = Field(default=None, pattern=UPLOAD_ID_PATTERN)
    stdin_upload_id: str | None = Field(
        default=None,
        pattern=UPLOAD_ID_PATTERN,
        description="an upload (POST /uploads, then PUT) whose raw bytes become the "
        "command's stdin; without it stdin is empty",
    )
    playbook: Name | None = Field(
        default=None,
        pattern=PLAYBOOK_NAME_PATTERN,
        description="the playbook that started the run (`mycli run NAME`), kept in the record",
    )
    image: str | None = Field(
        default=None,
        pattern=IMAGE_NAME_PATTERN,
        description="a registered image (GET /images); the default image when omitted",
    )
    cpu: int | None = Field(
        default=None,
        ge=1,
        le=MAX_CPU_UNITS,
        description="Fargate CPU units, within the image's limit",
    )
    memory: int | None = Field(
        default=None, ge=1, le=MAX_MEMORY_MIB, description="MiB, within the image's limit"
    )
    git_url: Name | None = Field(
        default=None,
        max_length=MAX_GIT_URL_LENGTH,
        description="run in a fresh checkout of this repository: https://, http://, ssh://, "
        "user@host:path or file:// (a repository on the host that clones); no credentials "
        "in it (git_secret), not with upload_id",
    )
    git_ref: Name | None = Field(
        default=None,
        max_length=MAX_GIT_REF_LENGTH,
        description="branch, tag or full commit id (default: the remote's default branch)",
    )
    git_subdir: Name | None = Field(
        default=None,
        max_length=MAX_GIT_SUBDIR_LENGTH,
        description="the command's working directory, relative to the checkout's top",
    )
    git_secret: Name | None = Field(
        default=None,
        max_length=128,
        description="name of the stored secret git fetches with: an HTTPS token "
        "(TOKEN or USER:TOKEN) or an SSH private key",
    )

    wait_lock_seconds: int | None = Field(
        default=None,
        ge=1,
        le=86400,
        description="with `lock`: when the lock is taken, wait up to this long in the lock's "
        "queue (status QUEUED; the platform starts the run when its turn comes, in arrival "
        "order) instead of being refused. A wait that expires ends the run FAILED with "
        "exit_code 125",
    )
    purpose: Literal["run", "check"] = Field(
        default="run",
        description='"check" for a check of the platform (`mycli doctor`): recorded and '
        "readable like any run and counted by the quota, but listed only with "
        "GET /executions?include_checks=true",
    )

    @field_validator("command")
    @classmethod
    def command_not_blank(cls, command: str) -> str:
        if not command.strip():
            raise ValueError("must not be blank")
        return command

    @field_validator("env")
    @classmethod
    def env_names_and_sizes(cls, env: dict[str, str]) -> dict[str, str]:
        for name, value in env.items():
            if not _ENV_NAME.fullmatch(name):
                raise ValueError(f"invalid variable name {name!r}")
            if len(value) > MAX_ENV_VALUE_LENGTH:
                raise ValueError(f"value of {name} is longer than {MAX_ENV_VALUE_LENGTH}")
            problem = text_problem(value, TextKind.VALUE)
            if problem is not None:
                raise ValueError(f"value of {name} {problem}")
        if env_size(env) > MAX_ENV_TOTAL_BYTES:
            raise ValueError(f"names and values take more than {MAX_ENV_TOTAL_BYTES} bytes")
        return env

    secrets: dict[str, str] = Field(
        default_factory=dict,
        max_length=MAX_SECRETS_PER_EXECUTION,
        description="env var name -> stored secret name (PUT /secrets): the secret's value "
        f"becomes that variable; names match {ENV_NAME_PATTERN} and {SECRET_NAME_PATTERN}; "
        "an unknown secret, one restricted to other images, or a variable also in `env` is 400",
    )

    @field_validator("secrets")
    @classmethod
    def secret_names(cls, secrets: dict[str, str]) -> dict[str, str]:
        for variable, name in secrets.items():
            if not _ENV_NAME.fullmatch(variable):
                raise ValueError(f"invalid variable name {variable!r}")
            if not _SECRET_NAME.fullmatch(name):
                raise ValueError(
                    f"secret of {variable}: secret names are 1-128 characters of letters, "
                    "digits and . _ -"
                )
        return secrets


class CreateUser(BaseModel):
    """POST /users."""

    model_config = _STRICT

    email: Name = Field(pattern=EMAIL_PATTERN, max_length=254)
    # JSON has no enums: the role is read from its string (strict mode wants a Role).
    role: Role = Field(default=Role.USER, strict=False)


class LockHolderOut(BaseModel):
    """Who holds a lock: a run or a hold. Every key is always there."""

    model_config = _DOCUMENTED

    kind: Literal["run", "hold"]
    lock_name: str
    execution_id: str = Field(description='the run\'s execution id, or the hold id "hold-<hex>"')
    user_email: str = Field(description="who started the run or took the hold")
    since: str = Field(description="when the lock was taken (ISO 8601 UTC)")
    until: str = Field(description="when the lock expires unless released first")
    status: str | None = Field(description="a run's execution status; null for a hold")
    reason: str | None = Field(description="a hold's reason; null for a run")


class QueuePlaceOut(BaseModel):
    model_config = _DOCUMENTED

    lock_name: str
    position: int | None = Field(description="1 = next; null once it has left the queue")
    holder: LockHolderOut | None


class ExecutionOut(BaseModel):
    model_config = _DOCUMENTED

    execution_id: str
    user_email: str
    command: str
    status: ExecutionStatus
    started_at: str
    timeout_seconds: int
    lock_name: str | None
    upload_id: str | None
    env_names: list[str]
    exit_code: int | None
    reason: str | None
    task_ref: str | None
    log_stream_name: str | None
    finished_at: str | None
    updated_at: str | None
    request_id: str | None
    cancelled_by: str | None
    lock_released_by: str | None
    log_truncated_at: int | None = Field(
        description="byte offset where storing the output stopped (the log cap), or null"
    )
    stdin_upload_id: str | None
    playbook: str | None = Field(description="the playbook that started it (`mycli run`)")
    image: str | None = Field(
        default=None, description="the image it ran on (null: no image, as before images)"
    )
    image_uri: str | None = Field(
        default=None, description="the image's URI when it ran (embedded host: informational)"
    )
    cpu: int | None = Field(default=None, description="Fargate CPU units it ran with")
    memory: int | None = Field(default=None, description="MiB it ran with")
    secret_names: list[str] = Field(description='"VAR=NAME" per stored secret used; no value')
    git_url: str | None
    git_ref: str | None
    git_subdir: str | None
    git_commit: str | None = Field(
        description="the commit git_ref resolved to, once the checkout has run"
    )
    git_secret: str | None = Field(
        default=None, description="the name of the stored secret git fetched with (no value)"
    )
    purpose: Literal["run", "check"] = Field(
        default="run", description='"check": a platform check (`mycli doctor`), see POST'
    )
    lock_wait_until: str | None = Field(
        default=None, description="a run that asked to wait for its lock: until when it may"
    )
    dequeued_at: str | None = Field(
        default=None,
        description="a run that waited for its lock: when it got it (its timeout counts from then)",
    )
    start: Literal["warm", "cold"] | None = Field(
        default=None,
        description="how its task started on AWS: on a warm task of its image's pool, or by "
        "RunTask (docs/warm-runners.md); null on the embedded platform and for older runs",
    )
    queue: QueuePlaceOut | None = Field(
        default=None,
        description="a QUEUED run (GET /executions/{id} and the create's answer): where it "
        "stands and what holds the lock",
    )


class ExecutionPageOut(BaseModel):
    model_config = _DOCUMENTED

    items: list[ExecutionOut]
    next_cursor: str | None


class LogChunkOut(BaseModel):
    model_config = _DOCUMENTED

    offset: int = Field(description="byte offset of the chunk's first byte in the output")
    stream: Literal["stdout", "stderr", "combined"] = Field(
        description="combined where the platform cannot tell the streams apart (AWS)"
    )
    timestamp: str = Field(description="when the chunk arrived, ISO-8601 UTC with ms")
    data: str = Field(description="base64 of the exact bytes")


class LogPageOut(BaseModel):
    model_config = _DOCUMENTED

    chunks: list[LogChunkOut]
    next_cursor: str = Field(description="pass as ?cursor= to continue after this page")
    status: ExecutionStatus
    complete: bool = Field(
        description="the execution has finished and this page reached the end of its output"
    )
    truncated_at: int | None = Field(
        description="byte offset where storing stopped because the log cap was reached"
    )
    exit_code: int | None = Field(
        description="the execution's exit code, as GET /executions/{execution_id} has it when "
        "`status` was read (null until it finished with one)"
    )
    reason: str | None = Field(
        description="why the execution ended as it did, as GET /executions/{execution_id} has "
        "it (null while it runs)"
    )


class UserOut(BaseModel):
    model_config = _DOCUMENTED

    email: str
    role: Role
    created_at: str
    revoked: bool
    last_used: str | None
    active_keys: int


class UserListOut(BaseModel):
    model_config = _DOCUMENTED

    items: list[UserOut]


class NewUserOut(BaseModel):
    model_config = _DOCUMENTED

    email: str
    role: Role
    created_at: str
    api_key: str = Field(description="shown once; only its SHA-256 hash is stored")


class UploadSlotOut(BaseModel):
    model_config = _DOCUMENTED

    upload_id: str
    url: str = Field(description="PUT the archive here")
    method: Literal["PUT"]
    headers: dict[str, str] = Field(description="send these headers with the PUT")
    expires_at: str
    max_bytes: int


SecretName = Annotated[str, Field(pattern=SECRET_NAME_PATTERN)]


class PutSecret(BaseModel):
    """PUT /secrets/{name}."""

    model_config = _STRICT

    # repr=False: never in a repr (Powertools' debug log prints the parsed body).
    value: Annotated[str, text_validator(TextKind.VALUE)] = Field(
        repr=False,
        json_schema_extra={"writeOnly": True},
        min_length=1,
        max_length=MAX_SECRET_VALUE_BYTES,
        description=f"at most {MAX_SECRET_VALUE_BYTES} bytes (UTF-8), no NUL; never returned, "
        "logged or stored in plain text",
    )
    description: Name = Field(default="", max_length=MAX_SECRET_DESCRIPTION_LENGTH)
    images: list[SecretName] = Field(
        default_factory=list,
        max_length=MAX_SECRET_IMAGES,
        description="only runs on these images may use it (empty: any run)",
    )


class SecretOut(BaseModel):
    model_config = _DOCUMENTED

    name: str
    description: str
    images: list[str] = Field(description="images whose runs may use it; empty: any")
    set_by: str
    set_at: str
    version: int = Field(description="1 when created, one more at each replacement")


class SecretListOut(BaseModel):
    model_config = _DOCUMENTED

    items: list[SecretOut]


class MeOut(BaseModel):
    model_config = _DOCUMENTED

    email: str
    role: Role


class HealthOut(BaseModel):
    model_config = _DOCUMENTED

    status: Literal["ok"]
    version: str
    backend: Literal["local", "aws"]


class ErrorBody(BaseModel):
    model_config = _DOCUMENTED

    code: str
    message: str
    details: dict[str, object]


class ErrorOut(BaseModel):
    model_config = _DOCUMENTED

    error: ErrorBody


def documented(model: type[BaseModel], description: str) -> OpenAPIResponse:
    """An OpenAPI response entry for `model`, for a route's `responses=`."""
    return {"description": description, "content": {"application/json": {"model": model}}}


# Every route but GET /health needs the key (the scheme is declared in api.app).
API_KEY: list[dict[str, list[str]]] = [{"apiKey": []}]

_ERROR_MEANINGS = {
    400: "invalid request: a parameter, header or body breaks a documented rule",
    401: "missing, unknown or revoked API key",
    403: "not an admin",
    404: "not found",
    409: "conflict",
    413: "too large",
    415: "the body is not JSON (send Content-Type: application/json)",
    429: "throttled: over the API's request rate, or AWS throttled the platform; retry after "
    "Retry-After seconds (API Gateway's own answer may carry none: back off)",
}
RETRY_AFTER: dict[str, OpenAPIResponseHeader] = {
    "Retry-After": {
        "description": "seconds to wait before retrying (with `throttled`)",
        "schema": {"type": "integer"},
    }
}


def errors(*statuses: int, **meanings: str) -> dict[int, OpenAPIResponse]:
    """Error responses for a route's `responses=`: each status with the error body, described
    generically or by `meanings` (keyword `e404="no such lock"`). Every route may answer 429
    `throttled` (the API stage's rate limit, AWS throttling), so 429 is always there."""
    responses = {
        status: documented(ErrorOut, meanings.get(f"e{status}", _ERROR_MEANINGS[status]))
        for status in sorted({*statuses, 429})
    }
    responses[429]["headers"] = RETRY_AFTER
    return responses


# What every authenticated route may answer besides its own statuses.
ERRORS = errors(400, 401)
