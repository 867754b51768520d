"""Imports from another platform (admin only; `mycli migrate`): API keys by hash, and
finished executions with their output. Idempotent: the same again changes nothing."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from orchestrator.api.context import caller, services
from orchestrator.api.import_schemas import (
    KEY_HASH_PATTERN,
    ImportedOut,
    ImportedOutputOut,
    ImportExecution,
    ImportKey,
    ImportOutput,
)
from orchestrator.api.schemas import API_KEY, Name, documented, errors
from orchestrator.domain.errors import ValidationFailed
from orchestrator.domain.imports import ImportService
from orchestrator.domain.models import ApiKeyRecord, Execution, LogChunk, LogStream

router = Router()

KeyHash = Annotated[str, Path(pattern=KEY_HASH_PATTERN)]
ExecutionId = Annotated[Name, Path(min_length=1, max_length=64)]


def _imports() -> ImportService:
    imports = services().imports
    if imports is None:
        raise ValidationFailed("this server takes no imports")
    return imports


@router.put(
    "/import/keys/<api_key_hash>",
    summary="Import an API key by its SHA-256 hash (the key itself is never sent)",
    tags=["import"],
    security=API_KEY,
    responses={
        200: documented(ImportedOut, "stored, or already there"),
        **errors(400, 401, 403, 409, 413, 415, e409="the hash is another user's key"),
    },
)
def import_key(api_key_hash: KeyHash, body: Annotated[ImportKey, Body()]) -> dict[str, Any]:
    record = ApiKeyRecord(api_key_hash=api_key_hash, **body.model_dump())
    return {"imported": _imports().import_key(caller(), record)}


@router.put(
    "/import/executions/<execution_id>/output",
    summary="Import the next piece of a finished execution's output, before its record",
    tags=["import"],
    security=API_KEY,
    responses={
        200: documented(ImportedOutputOut, "stored, or already there"),
        **errors(
            400,
            401,
            403,
            409,
            413,
            415,
            e400="invalid chunks, or they start past the stored output",
            e409="the execution exists, or other bytes are stored there",
        ),
    },
)
def import_output(
    execution_id: ExecutionId, body: Annotated[ImportOutput, Body()]
) -> dict[str, Any]:
    chunks = [
        LogChunk(chunk.offset, LogStream(chunk.stream), chunk.timestamp, _bytes(chunk.data))
        for chunk in body.chunks
    ]
    end = _imports().import_output(caller(), execution_id, chunks)
    return {"stored_bytes": end}


@router.put(
    "/import/executions/<execution_id>",
    summary="Import a finished execution's record once its output is imported",
    tags=["import"],
    security=API_KEY,
    responses={
        200: documented(ImportedOut, "recorded, or the same record was already there"),
        **errors(
            400,
            401,
            403,
            409,
            413,
            415,
            e400="not finished, the id differs from the path's, or output is missing",
            e409="the id exists with other content",
        ),
    },
)
def import_execution(
    execution_id: ExecutionId, body: Annotated[ImportExecution, Body()]
) -> dict[str, Any]:
    record = body.execution.model_dump()
    if record["execution_id"] != execution_id:
        raise ValidationFailed("the record's execution_id differs from the path's")
    record["env_names"] = tuple(record["env_names"])
    record["secret_names"] = tuple(record["secret_names"])
    execution = Execution(**record)
    return {"imported": _imports().import_execution(caller(), execution, body.output_bytes)}


def _bytes(data: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValidationFailed("chunk data is not base64") from error
