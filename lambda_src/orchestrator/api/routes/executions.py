"""Executions: create, list, read, logs, cancel."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from orchestrator.api.context import caller, current_scope, services
from orchestrator.api.schemas import (
    ERRORS,
    CreateExecution,
    ErrorOut,
    ExecutionOut,
    ExecutionPageOut,
    LogPageOut,
    documented,
)
from orchestrator.domain.models import (
    MAX_LOG_PAGE_BYTES,
    MAX_LOG_WAIT_SECONDS,
    MAX_PAGE_SIZE,
    ExecutionRequest,
    ExecutionStatus,
)

router = Router()

NOT_YOURS: dict[int, OpenAPIResponse] = {
    404: documented(ErrorOut, "no such execution, or not the caller's")
}
ExecutionId = Annotated[str, Path(min_length=1, max_length=64)]
Cursor = Annotated[str | None, Query(max_length=1024)]
IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="Retry-safe create: a repeated key from the same user returns the first "
        "execution (202, the same body) instead of starting another run.",
    ),
]


@router.post(
    "/executions",
    status_code=202,
    summary="Start a command",
    tags=["executions"],
    responses={
        202: documented(ExecutionOut, "accepted; FAILED with a reason if it could not start"),
        409: documented(ErrorOut, "lock_held: names the holder, its execution and the expiry"),
        **ERRORS,
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
    )
    execution = services().executions.start(
        caller(), request, current_scope().request_id, idempotency_key
    )
    return execution.to_dict()


@router.get(
    "/executions",
    summary="List executions, newest first",
    description="Users see their own; admins see everyone's, or one user's with ?user=.",
    tags=["executions"],
    responses={200: documented(ExecutionPageOut, "one page"), **ERRORS},
)
def list_executions(
    status: Annotated[ExecutionStatus | None, Query()] = None,
    user: Annotated[str | None, Query(max_length=254)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
    cursor: Cursor = None,
) -> dict[str, Any]:
    page = services().executions.list_page(
        caller(), user=user, status=status, limit=limit, cursor=cursor
    )
    return {"items": [e.to_dict() for e in page.items], "next_cursor": page.next_cursor}


@router.get(
    "/executions/<execution_id>",
    summary="One execution",
    tags=["executions"],
    responses={200: documented(ExecutionOut, "the execution"), **NOT_YOURS, **ERRORS},
)
def get_execution(execution_id: ExecutionId) -> dict[str, Any]:
    # Path segments arrive percent-encoded (as API Gateway passes them): decode once.
    return services().executions.get(caller(), execution_id).to_dict()


@router.get(
    "/executions/<execution_id>/logs",
    summary="An execution's output after a cursor, byte for byte",
    description="Chunks carry base64 of the exact bytes. Follow with next_cursor until "
    "`complete`; `wait` lets the server hold an empty page until output or the end arrives "
    "(the AWS host answers at once).",
    tags=["executions"],
    responses={
        200: documented(LogPageOut, "chunks and the cursor to continue"),
        **NOT_YOURS,
        **ERRORS,
    },
)
def get_logs(
    execution_id: ExecutionId,
    cursor: Cursor = None,
    max_bytes: Annotated[int, Query(ge=1, le=MAX_LOG_PAGE_BYTES)] = MAX_LOG_PAGE_BYTES,
    wait: Annotated[float, Query(ge=0, le=MAX_LOG_WAIT_SECONDS)] = 0,
) -> dict[str, Any]:
    execution, page = services().executions.logs(caller(), execution_id, cursor, max_bytes, wait)
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
        "next_cursor": page.next_cursor,
        "status": execution.status.value,
        "complete": page.complete,
        "truncated_at": page.truncated_at,
    }


@router.post(
    "/executions/<execution_id>/cancel",
    status_code=202,
    summary="Cancel an execution (idempotent once it has finished)",
    tags=["executions"],
    responses={202: documented(ExecutionOut, "cancelling, or already finished"), **NOT_YOURS},
)
def cancel_execution(execution_id: ExecutionId) -> dict[str, Any]:
    return services().executions.cancel(caller(), execution_id).to_dict()
