"""Imports from another platform (`mycli migrate`): API keys by hash, finished executions
and their output, as they were. Admin only; idempotent (the same record again changes
nothing; a different one under the same id is a Conflict, never overwritten). An imported
execution is terminal: it takes no running slot, holds no lock and starts nothing."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from orchestrator.domain.errors import Conflict, Forbidden, ValidationFailed
from orchestrator.domain.models import (
    ApiKeyRecord,
    Caller,
    Execution,
    LogChunk,
    LogStream,
    parse_iso,
)
from orchestrator.ports import ApiKeyStore, ExecutionStore, OutputImports

# One import request's output: fits the embedded server's 1 MiB body once in base64, and
# one AWS output segment (output_segments.MAX_SEGMENT_BYTES, MAX_CHUNKS_PER_SEGMENT).
MAX_IMPORT_OUTPUT_BYTES = 512 * 1024
MAX_IMPORT_CHUNKS = 4096
IMPORT_STREAMS = (LogStream.STDOUT, LogStream.STDERR)
_TIMESTAMP = re.compile(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\Z")


class ImportService:
    def __init__(
        self, keys: ApiKeyStore, executions: ExecutionStore, output: OutputImports
    ) -> None:
        self._keys = keys
        self._executions = executions
        self._output = output

    def import_key(self, caller: Caller, record: ApiKeyRecord) -> bool:
        """Store a key by its hash; False when it is already there as the same user's key
        (its later use or revocation here is kept)."""
        _require_admin(caller)
        existing = self._keys.get(record.api_key_hash)
        if existing is None:
            try:
                self._keys.add(record)
                return True
            except Conflict:
                existing = self._keys.get(record.api_key_hash)
        if existing is None or _key_identity(existing) != _key_identity(record):
            raise Conflict(
                "this key hash already belongs to another user, role or creation time",
                {"user_email": record.user_email},
            )
        return False

    def import_output(self, caller: Caller, execution_id: str, chunks: Sequence[LogChunk]) -> int:
        """Store a piece of an execution's output before its record; the stored end."""
        _require_admin(caller)
        _check_chunks(chunks)
        if self._executions.get(execution_id) is not None:
            raise Conflict(
                f"execution {execution_id} already exists: its output is not replaced",
                {"execution_id": execution_id},
            )
        return self._output.put_chunks(execution_id, chunks)

    def import_execution(self, caller: Caller, execution: Execution, output_bytes: int) -> bool:
        """Record a finished execution whose output (`output_bytes`) was imported first;
        False when the same record is already there."""
        _require_admin(caller)
        if not execution.status.is_terminal:
            raise ValidationFailed(
                f"only finished executions are imported, not {execution.status.value}",
                {"execution_id": execution.execution_id},
            )
        truncated = execution.log_truncated_at
        if output_bytes < 0 or truncated not in (None, output_bytes):
            raise ValidationFailed("log_truncated_at must be null or the output's size")
        execution = replace(execution, request_fingerprint=None, grant_id=None)
        if self._same_as_stored(execution):
            return False
        self._output.finish(execution.execution_id, output_bytes, truncated)
        try:
            self._executions.create(execution)
        except Conflict:
            if self._same_as_stored(execution):
                return False
            raise
        return True

    def _same_as_stored(self, execution: Execution) -> bool:
        stored = self._executions.get(execution.execution_id)
        if stored is None:
            return False
        if stored.to_dict() != execution.to_dict():
            raise Conflict(
                f"execution {execution.execution_id} already exists with other content",
                {"execution_id": execution.execution_id},
            )
        return True


def _key_identity(record: ApiKeyRecord) -> tuple[str, str, str]:
    return (record.user_email, record.role.value, record.created_at)


def _check_chunks(chunks: Sequence[LogChunk]) -> None:
    if not 1 <= len(chunks) <= MAX_IMPORT_CHUNKS:
        raise ValidationFailed(f"send 1 to {MAX_IMPORT_CHUNKS} chunks")
    position = chunks[0].offset
    for chunk in chunks:
        if chunk.offset != position:
            raise ValidationFailed("chunks must be contiguous", {"offset": chunk.offset})
        if chunk.stream not in IMPORT_STREAMS or not chunk.data:
            raise ValidationFailed("each chunk holds stdout or stderr bytes, at least one")
        if not _is_timestamp(chunk.timestamp):
            raise ValidationFailed("timestamps are UTC ISO-8601 with milliseconds and a Z")
        position += len(chunk.data)
    if position - chunks[0].offset > MAX_IMPORT_OUTPUT_BYTES:
        raise ValidationFailed(f"at most {MAX_IMPORT_OUTPUT_BYTES} output bytes per request")


def _is_timestamp(text: str) -> bool:
    if not _TIMESTAMP.match(text):
        return False
    try:
        parse_iso(text).timestamp()
    except (ValueError, OverflowError):
        return False
    return True


def _require_admin(caller: Caller) -> None:
    if not caller.is_admin:
        raise Forbidden("this needs the admin role")
