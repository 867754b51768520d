"""ImportService: admin only; keys compared by who they belong to (later use or revocation on
the target is kept); output only for an id without a record; a record only once its output is
complete, and a record that lost a race to the same record is a no-op."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest

from fakes import InMemoryApiKeyStore, InMemoryExecutionStore
from orchestrator.domain.errors import Conflict, Forbidden, ValidationFailed
from orchestrator.domain.imports import ImportService
from orchestrator.domain.models import (
    ApiKeyRecord,
    Caller,
    Execution,
    ExecutionStatus,
    LogChunk,
    LogStream,
    Role,
)

ADMIN = Caller("root@x.io", Role.ADMIN)
USER = Caller("u@x.io", Role.USER)
STAMP = "2025-01-01T00:00:00.000Z"


class RecordingOutput:
    """Keeps what the service hands the port (the adapters have their own contract)."""

    def __init__(self) -> None:
        self.put: list[tuple[str, int]] = []
        self.finished: list[tuple[str, int, int | None]] = []

    def put_chunks(self, execution_id: str, chunks: Sequence[LogChunk]) -> int:
        self.put.append((execution_id, chunks[0].offset))
        return chunks[-1].offset + len(chunks[-1].data)

    def finish(self, execution_id: str, total: int, truncated_at: int | None) -> None:
        self.finished.append((execution_id, total, truncated_at))


def service() -> tuple[ImportService, InMemoryApiKeyStore, InMemoryExecutionStore, RecordingOutput]:
    keys, executions, output = InMemoryApiKeyStore(), InMemoryExecutionStore(), RecordingOutput()
    return ImportService(keys, executions, output), keys, executions, output


def key(**changes: object) -> ApiKeyRecord:
    base = ApiKeyRecord(
        api_key_hash="h" * 64, user_email="c@x.io", role=Role.USER, created_at=STAMP
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def run(status: ExecutionStatus = ExecutionStatus.SUCCEEDED, **changes: object) -> Execution:
    base = Execution(
        execution_id="r1",
        user_email="c@x.io",
        command="true",
        status=status,
        started_at=STAMP,
        timeout_seconds=60,
        exit_code=0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_key_used_or_revoked_on_the_target_since_is_already_there_not_a_conflict() -> None:
    imports, keys, _, _ = service()
    assert imports.import_key(ADMIN, key()) is True
    keys.touch("h" * 64, "2025-06-01T00:00:00.000Z")
    keys.revoke("h" * 64, "2025-06-02T00:00:00.000Z")

    assert imports.import_key(ADMIN, key()) is False
    assert keys.records["h" * 64].revoked  # the target's revocation stands
    with pytest.raises(Conflict):
        imports.import_key(ADMIN, key(role=Role.ADMIN))


def test_output_for_an_id_with_a_record_is_refused_and_a_record_needs_its_output_finished() -> None:
    imports, _, executions, output = service()
    chunk = LogChunk(0, LogStream.STDOUT, "2025-01-01T00:00:00.500Z", b"hi\n")
    assert imports.import_output(ADMIN, "r1", [chunk]) == 3

    assert imports.import_execution(ADMIN, run(grant_id="g", request_fingerprint="f"), 3) is True
    stored = executions.get("r1")
    assert stored is not None and stored.grant_id is None and stored.request_fingerprint is None
    assert output.finished == [("r1", 3, None)]
    with pytest.raises(Conflict):
        imports.import_output(ADMIN, "r1", [chunk])
    assert imports.import_execution(ADMIN, run(), 3) is False
    assert output.finished == [("r1", 3, None)]  # a no-op touches nothing


def test_a_record_that_lost_a_race_to_the_same_record_is_a_no_op() -> None:
    class RacingStore(InMemoryExecutionStore):
        """The same record is created by another request between the read and the create."""

        def create(self, execution: Execution, **kwargs: object) -> None:
            super().create(execution)
            raise Conflict("exists")

    racing = RacingStore()
    imports = ImportService(InMemoryApiKeyStore(), racing, RecordingOutput())

    assert imports.import_execution(ADMIN, run(), 0) is False
    with pytest.raises(Conflict):  # another record under the id
        imports.import_execution(ADMIN, run(exit_code=1), 0)


@pytest.mark.parametrize("status", [ExecutionStatus.RUNNING, ExecutionStatus.PENDING])
def test_only_finished_runs_are_imported(status: ExecutionStatus) -> None:
    imports, _, executions, _ = service()

    with pytest.raises(ValidationFailed):
        imports.import_execution(ADMIN, run(status), 0)
    assert executions.get("r1") is None


def test_chunks_must_be_contiguous_known_streams_with_timestamps() -> None:
    imports, *_ = service()
    good = LogChunk(0, LogStream.STDOUT, "2025-01-01T00:00:00.500Z", b"a")
    for bad in (
        [good, replace(good, offset=5)],
        [replace(good, stream=LogStream.COMBINED)],
        [replace(good, timestamp="yesterday")],
        [replace(good, data=b"")],
        [],
    ):
        with pytest.raises(ValidationFailed):
            imports.import_output(ADMIN, "r1", bad)


def test_only_admins_import() -> None:
    imports, *_ = service()
    with pytest.raises(Forbidden):
        imports.import_key(USER, key())
    with pytest.raises(Forbidden):
        imports.import_execution(USER, run(), 0)
