"""Executions: create, list, read, logs, cancel."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query

from orchestrator.api.context import caller, current_scope, services
from orchestrator.api.log_pages import BINARY, binary_page, page_fields, wants_binary
from orchestrator.api.schemas import (
    API_KEY,
    QUERY_BOOLEAN,
    QUERY_INTEGER,
    QUERY_NUMBER,
    CreateExecution,
    ErrorOut,
    ExecutionOut,
    ExecutionPageOut,
    LogPageOut,
    Name,
    documented,
    errors,
)
from orchestrator.domain.models import (
    MAX_LOG_PAGE_BYTES,
    MAX_LOG_WAIT_SECONDS,
    MAX_PAGE_SIZE,
    Execution,
    ExecutionRequest,
    ExecutionStatus,
)

router = Router()

NOT_YOURS = "no such execution, or not the caller's"
ExecutionId = Annotated[Name, Path(min_length=1, max_length=64)]
Cursor = Annotated[
    Name | None,
    Query(max_length=1024, description="next_cursor of the previous page, passed back as is"),
]
IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="Retry-safe create: a repeated key from the same user with the same "
        "body returns the first execution (202, the same body) instead of starting another "
        "run; with a different body it is refused (422 idempotency_key_reused).",
    ),
]


@router.post(
    "/executions",
    status_code=202,
    summary="Start a command",
    tags=["executions"],
    security=API_KEY,
    responses={
        202: documented(
            ExecutionOut,
            "accepted; FAILED with a reason if it could not start; QUEUED (with `queue`) when "
            "its lock is taken and it may wait",
        ),
        **errors(
            400,
            401,
            404,
            409,
            413,
            415,
            429,
            e400="invalid request; also an unknown secret, a secret restricted to other "
            "images, or a variable in both env and secrets",
            e404="no such upload (upload_id, stdin_upload_id), or not the caller's; or no "
            "such image",
            e409="lock_held (without wait_lock_seconds): names the holder and its execution's "
            "state; details: lock_name, holder (email), execution_id, acquired_at, "
            "expires_at, execution_status, execution_started_at, execution_finished_at (the "
            'last three null if the run is unknown), and for a hold holder_kind "hold" and '
            "reason; or a request with this Idempotency-Key is in progress",
            e413="the body is over 1 MiB, or the upload over the upload limit",
            e429="too_many_executions: over the running limit (GET /quota; a QUEUED run "
            "counts); not queued, and no Retry-After: retry once a run ends. queue_full: 100 "
            "runs wait for the lock already. Or throttled, with Retry-After: retry with the "
            "same Idempotency-Key",
        ),
        422: documented(
            ErrorOut,
            "idempotency_key_reused: this Idempotency-Key already stands for a different "
            "request (details.execution_id names its execution); nothing was started",
        ),
    },
)
def create_execution(
    body: Annotated[CreateExecution, Body()], idempotency_key: IdempotencyKey = None
) -> dict[str, Any]:
    request = ExecutionRequest(
        command=body.command,
        lock=body.lock,
        env=body.env,
        timeout_seconds=body.timeout_seconds,
        upload_id=body.upload_id,
        stdin_upload_id=body.stdin_upload_id,
        playbook=body.playbook,
        image=body.image,
        cpu=body.cpu,
        memory=body.memory,
        secrets=body.secrets,
        git_url=body.git_url,
        git_ref=body.git_ref,
        git_subdir=body.git_subdir,
        git_secret=body.git_secret,
        purpose=body.purpose,
        wait_lock_seconds=body.wait_lock_seconds,
    )
    execution = services().executions.start(
        caller(), request, current_scope().request_id, idempotency_key
    )
    return _with_queue_place(execution)


def _with_queue_place(execution: Execution) -> dict[str, Any]:
    """The execution; a QUEUED one with where it stands in its lock's queue."""
    data = execution.to_dict()
    place = services().executions.queue_place(execution)
    if place is not None:
        data["queue"] = place.to_dict()
    return data


@router.get(
    "/executions",
    summary="List executions, newest first",
    description="Users see their own; admins see everyone's, or one user's with ?user=. "
    'Checks (purpose "check": `mycli doctor`\'s runs) are left out unless '
    "?include_checks=true.",
    tags=["executions"],
    security=API_KEY,
    responses={
        200: documented(ExecutionPageOut, "one page"),
        **errors(400, 401, 403, e403="?user= names someone else and the caller is not an admin"),
    },
)
def list_executions(
    status: Annotated[ExecutionStatus | None, Query()] = None,
    user: Annotated[Name | None, Query(max_length=254)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE), QUERY_INTEGER] = 20,
    cursor: Cursor = None,
    include_checks: Annotated[
        bool,
        Query(description="also list checks (`mycli doctor`'s runs)"),
        QUERY_BOOLEAN,
    ] = False,
) -> dict[str, Any]:
    page = services().executions.list_page(
        caller(),
        user=user,
        status=status,
        limit=limit,
        cursor=cursor,
        include_checks=include_checks,
    )
    return {"items": [e.to_dict() for e in page.items], "next_cursor": page.next_cursor}


@router.get(
    "/executions/<execution_id>",
    summary="One execution",
    tags=["executions"],
    security=API_KEY,
    responses={
        200: documented(ExecutionOut, "the execution"),
        **errors(400, 401, 404, e404=NOT_YOURS),
    },
)
def get_execution(execution_id: ExecutionId) -> dict[str, Any]:
    return _with_queue_place(services().executions.get(caller(), execution_id))


@router.get(
    "/executions/<execution_id>/logs",
    summary="An execution's output after a cursor, byte for byte",
    description="Chunks carry base64 of the exact bytes. Follow with next_cursor until "
    "`complete`; `wait` lets the server hold an empty page until output or the end arrives "
    "(the AWS host answers at once). With `Accept: application/octet-stream` the page is "
    "binary: one line of JSON (v, offset, chunks as [stream, timestamp, length], "
    "next_cursor, status, complete, truncated_at, exit_code, reason), then the chunks' bytes "
    "back to back. `exit_code` and `reason` are the execution's, read with `status`: the "
    "`complete` page says how the run ended, with no further request.",
    tags=["executions"],
    security=API_KEY,
    responses={
        200: {
            "description": "chunks and the cursor to continue",
            "content": {
                "application/json": {"model": LogPageOut},
                BINARY: {"schema": {"type": "string", "format": "binary"}},
            },
        },
        **errors(400, 401, 404, e404=NOT_YOURS),
    },
)
# No return annotation, on purpose: Powertools would validate the binary page's body against
# it and serialize it as JSON (bytes to text, or a 500 for invalid UTF-8).
def get_logs(  # type: ignore[no-untyped-def]
    execution_id: ExecutionId,
    cursor: Cursor = None,
    max_bytes: Annotated[
        int, Query(ge=1, le=MAX_LOG_PAGE_BYTES), QUERY_INTEGER
    ] = MAX_LOG_PAGE_BYTES,
    wait: Annotated[float, Query(ge=0, le=MAX_LOG_WAIT_SECONDS), QUERY_NUMBER] = 0,
):
    execution, page = services().executions.logs(caller(), execution_id, cursor, max_bytes, wait)
    if wants_binary(router.current_event.headers.get("accept")):
        return Response(200, BINARY, binary_page(execution, page))
    return {
        "chunks": [
            {
                "offset": chunk.offset,
                "stream": chunk.stream.value,
                "timestamp": chunk.timestamp,
                "data": base64.b64encode(chunk.data).decode("ascii"),
            }
            for chunk in page.chunks
        ],
        **page_fields(execution, page),
    }


@router.post(
    "/executions/<execution_id>/cancel",
    status_code=202,
    summary="Cancel an execution (idempotent once it has finished)",
    tags=["executions"],
    security=API_KEY,
    responses={
        202: documented(ExecutionOut, "cancelling, or already finished"),
        **errors(400, 401, 404, e404=NOT_YOURS),
    },
)
def cancel_execution(execution_id: ExecutionId) -> dict[str, Any]:
    return services().executions.cancel(caller(), execution_id).to_dict()
