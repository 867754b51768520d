"""In-memory implementations of the ports, for unit tests of the domain. They pass the same
contract suite as the real adapters (tests/contract), so they cannot drift from them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from orchestrator.domain.cursors import decode_cursor, encode_cursor
from orchestrator.domain.errors import Conflict, LaunchFailed
from orchestrator.domain.idempotency import IdempotencyMarker
from orchestrator.domain.models import (
    ApiKeyRecord,
    Execution,
    ExecutionStatus,
    Image,
    LaunchResult,
    LaunchSpec,
    Lock,
    LogChunk,
    LogPage,
    LogStream,
    Page,
    RunningCount,
    Secret,
    Upload,
    UploadSlot,
    settable_fields,
)
from orchestrator.domain.quota import RunningLimits


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class InMemoryApiKeyStore:
    def __init__(self) -> None:
        self.records: dict[str, ApiKeyRecord] = {}

    def put(self, record: ApiKeyRecord) -> None:
        self.records[record.api_key_hash] = record

    def get(self, api_key_hash: str) -> ApiKeyRecord | None:
        return self.records.get(api_key_hash)

    def add(self, record: ApiKeyRecord) -> None:
        if record.api_key_hash in self.records:
            raise Conflict("key hash exists")
        self.records[record.api_key_hash] = record

    def list_by_email(self, email: str) -> list[ApiKeyRecord]:
        return sorted(
            (r for r in self.records.values() if r.user_email == email), key=lambda r: r.created_at
        )

    def list_all(self) -> list[ApiKeyRecord]:
        return sorted(self.records.values(), key=lambda r: r.created_at)

    def revoke(self, api_key_hash: str, revoked_at: str) -> None:
        record = self.records[api_key_hash]
        self.records[api_key_hash] = replace(record, revoked=True, revoked_at=revoked_at)

    def touch(self, api_key_hash: str, last_used: str) -> None:
        record = self.records[api_key_hash]
        if record.last_used is None or record.last_used < last_used:
            self.records[api_key_hash] = replace(record, last_used=last_used)


class InMemoryExecutionStore:
    def __init__(self) -> None:
        self.items: dict[str, Execution] = {}
        self.markers: dict[str, IdempotencyMarker] = {}
        self._lock = threading.Lock()

    def create(
        self,
        execution: Execution,
        *,
        limits: RunningLimits | None = None,
        claimed_by: str | None = None,
    ) -> None:
        with self._lock:
            if execution.execution_id in self.items:
                raise Conflict("exists")
            marker = self.markers.get(execution.execution_id)
            if claimed_by is not None and (marker is None or marker.owner != claimed_by):
                raise Conflict("the key's marker is another request's")
            running = self.count_active(execution.user_email)
            if limits and not execution.status.is_terminal and not limits.admits(running):
                raise limits.refusal(running)
            self.items[execution.execution_id] = execution

    def claim_marker(
        self, marker: IdempotencyMarker, stale_before: str
    ) -> IdempotencyMarker | None:
        with self._lock:
            holder = self.markers.get(marker.execution_id)
            if holder is not None and holder.claimed_at >= stale_before:
                return holder
            self.markers[marker.execution_id] = marker
            return None

    def release_marker(self, execution_id: str, owner: str) -> None:
        with self._lock:
            if (held := self.markers.get(execution_id)) is not None and held.owner == owner:
                del self.markers[execution_id]

    def get(self, execution_id: str) -> Execution | None:
        return self.items.get(execution_id)

    def advance(
        self, execution_id: str, status: ExecutionStatus, *, updated_at: str, **fields: object
    ) -> Execution | None:
        with self._lock:
            current = self.items.get(execution_id)
            if current is None or not current.status.can_move_to(status):
                return None
            updated = replace(current, status=status, updated_at=updated_at, **fields)  # type: ignore[arg-type]
            self.items[execution_id] = updated
            return updated

    def annotate(self, execution_id: str, **fields: object) -> None:
        with self._lock:
            current = self.items.get(execution_id)
            if current is not None:
                self.items[execution_id] = replace(current, **settable_fields(fields))  # type: ignore[arg-type]

    def list_page(
        self,
        *,
        user_email: str | None,
        status: ExecutionStatus | None,
        limit: int,
        cursor: str | None,
        include_checks: bool = False,
    ) -> Page:
        rows = sorted(
            (
                e
                for e in self.items.values()
                if (user_email is None or e.user_email == user_email)
                and (status is None or e.status is status)
                and (include_checks or not e.is_check)
            ),
            key=lambda e: (e.started_at, e.execution_id),
            reverse=True,
        )
        if cursor:
            position = decode_cursor(cursor, ("started_at", "execution_id"))
            after = (position["started_at"], position["execution_id"])
            rows = [e for e in rows if (e.started_at, e.execution_id) < after]
        page = rows[:limit]
        more = len(rows) > limit
        next_cursor = (
            encode_cursor(
                {"started_at": page[-1].started_at, "execution_id": page[-1].execution_id}
            )
            if more
            else None
        )
        return Page(items=page, next_cursor=next_cursor)

    def list_active(self) -> list[Execution]:
        return sorted(
            (e for e in self.items.values() if not e.status.is_terminal),
            key=lambda e: e.started_at,
        )

    def count_active(self, user_email: str) -> RunningCount:
        active = [e for e in self.items.values() if not e.status.is_terminal]
        return RunningCount(user=sum(e.user_email == user_email for e in active), total=len(active))


class InMemoryLockStore:
    def __init__(self) -> None:
        self.locks: dict[str, Lock] = {}
        self.mutex = threading.Lock()

    def acquire(self, lock: Lock, now: datetime) -> Lock | None:
        with self.mutex:
            held = self.locks.get(lock.lock_name)
            if held is not None and held.is_active(now):
                return held
            self.locks[lock.lock_name] = lock
            return None

    def release(self, lock_name: str, execution_id: str) -> bool:
        with self.mutex:
            held = self.locks.get(lock_name)
            if held is None or held.execution_id != execution_id:
                return False
            del self.locks[lock_name]
            return True

    def get(self, lock_name: str) -> Lock | None:
        return self.locks.get(lock_name)

    def list_active(self, now: datetime) -> list[Lock]:
        return sorted(
            (lock for lock in self.locks.values() if lock.is_active(now)),
            key=lambda lock: lock.lock_name,
        )


class FakeRunner:
    """Records launches, stops and releases; `fail_with` makes launches fail; `gone` are lost
    tasks. A launch with env values or secrets holds a grant (`grant-<n>`), as on AWS."""

    def __init__(self) -> None:
        self.launched: list[LaunchSpec] = []
        self.stopped: list[tuple[str, str]] = []
        self.released: list[tuple[str, str | None]] = []  # (execution id, grant id)
        self.gone: set[str] = set()
        self.fail_with: str | None = None
        self.start: str | None = None  # what each launch says of how its task started

    def launch(self, spec: LaunchSpec) -> LaunchResult:
        if self.fail_with:
            raise LaunchFailed(self.fail_with)
        self.launched.append(spec)
        holds = bool(spec.env or spec.secrets)
        return LaunchResult(
            task_ref=f"task-{len(self.launched)}",
            log_stream_name=spec.execution_id,
            grant_id=f"grant-{len(self.launched)}" if holds else None,
            start=self.start,
        )

    def release(self, execution: Execution) -> None:
        self.released.append((execution.execution_id, execution.grant_id))

    def stop(self, execution: Execution, reason: str) -> None:
        self.stopped.append((execution.execution_id, reason))

    def lost(self, executions: Sequence[Execution]) -> set[str]:
        return {e.execution_id for e in executions} & self.gone


class FakeLogReader:
    """Each stream's output as bytes (stdout); the cursor is the decimal offset."""

    def __init__(self) -> None:
        self.output: dict[str, bytes] = {}

    def read(self, execution: Execution, cursor: str | None, max_bytes: int) -> LogPage:
        data = self.output.get(execution.log_stream_name or "", b"")
        start = int(cursor or 0)
        piece = data[start : start + max_bytes]
        chunks = [LogChunk(start, LogStream.STDOUT, "t", piece)] if piece else []
        end = start + len(piece)
        return LogPage(chunks=chunks, next_cursor=str(end), at_end=end >= len(data))


class RecordingLogWaiter:
    """Records waits; `during_wait` plays what happens meanwhile (output, the end)."""

    def __init__(self) -> None:
        self.waits: list[tuple[str, str, float]] = []
        self.during_wait: Callable[[], None] = lambda: None

    def wait(self, execution_id: str, cursor: str, timeout_seconds: float) -> None:
        self.waits.append((execution_id, cursor, timeout_seconds))
        self.during_wait()


class InMemoryUploadStore:
    """Slots and uploads in dicts; `complete` plays the client's PUT."""

    def __init__(self) -> None:
        self.slots: dict[str, tuple[str, datetime, int]] = {}
        self.uploads: dict[str, Upload] = {}

    def open_slot(
        self, upload_id: str, user_email: str, expires_at: datetime, max_bytes: int
    ) -> UploadSlot:
        self.slots[upload_id] = (user_email, expires_at, max_bytes)
        return UploadSlot(
            upload_id, f"memory://{upload_id}", "PUT", {}, expires_at.isoformat(), max_bytes
        )

    def complete(self, upload_id: str, size: int, completed_at: str) -> None:
        user_email, _, _ = self.slots[upload_id]
        self.uploads[upload_id] = Upload(
            upload_id, user_email, f"memory://{upload_id}", size, completed_at
        )

    def find(self, user_email: str, upload_id: str) -> Upload | None:
        upload = self.uploads.get(upload_id)
        return upload if upload is not None and upload.user_email == user_email else None


class InMemoryImageStore:
    def __init__(self) -> None:
        self.items: dict[str, Image] = {}

    def create(self, image: Image) -> None:
        if image.name in self.items:
            raise Conflict("exists")
        self.items[image.name] = image

    def get(self, name: str) -> Image | None:
        return self.items.get(name)

    def list_all(self) -> list[Image]:
        return [self.items[name] for name in sorted(self.items)]

    def delete(self, name: str) -> bool:
        return self.items.pop(name, None) is not None

    def set_default(self, name: str) -> None:
        for key, image in self.items.items():
            self.items[key] = replace(image, is_default=key == name)

    def replace_platform(self, current: Image, fresh: Image) -> bool:
        recorded = self.items.get(current.name)
        if recorded is None or recorded.platform_ref != current.platform_ref:
            return False
        self.items[current.name] = replace(
            recorded, platform_ref=fresh.platform_ref, platform_base=fresh.platform_base
        )
        return True

    def update_pool(
        self, name: str, *, warm: int | None, warm_idle_seconds: int | None
    ) -> Image | None:
        recorded = self.items.get(name)
        if recorded is None:
            return None
        updated = replace(
            recorded,
            warm=recorded.warm if warm is None else warm,
            warm_idle_seconds=recorded.warm_idle_seconds
            if warm_idle_seconds is None
            else warm_idle_seconds,
        )
        self.items[name] = updated
        return updated


class RecordingImagePlatform:
    """Records what the image service asked the backend to prepare and release. Handles
    are made from `base` (set it to stand for a stack upgrade): `td/<name>`, then
    `td/<name>@<base>` once the base is not the first one."""

    FIRST_BASE = "run:1"

    def __init__(self) -> None:
        self.base = self.FIRST_BASE
        self.registered: list[str] = []
        self.unregistered: list[str] = []
        self.released_refs: list[str | None] = []

    def register(self, image: Image) -> Image:
        self.registered.append(image.name)
        suffix = "" if self.base == self.FIRST_BASE else f"@{self.base}"
        return replace(image, platform_ref=f"td/{image.name}{suffix}", platform_base=self.base)

    def is_current(self, image: Image) -> bool:
        return image.platform_base == self.base

    def warnings(self, image: Image) -> list[str]:
        return []

    def pool_warnings(self, image: Image) -> list[str]:
        return []

    def unregister(self, image: Image) -> None:
        self.unregistered.append(image.name)
        self.released_refs.append(image.platform_ref)


class InMemorySecretStore:
    """Secrets in a dict; `reveals` lists every (names, execution id) asked for."""

    def __init__(self) -> None:
        self.secrets: dict[str, tuple[Secret, str]] = {}
        self.reveals: list[tuple[tuple[str, ...], str]] = []

    def put(self, secret: Secret, value: str) -> Secret:
        previous = self.secrets.get(secret.name)
        stored = replace(secret, version=(previous[0].version if previous else 0) + 1)
        self.secrets[secret.name] = (stored, value)
        return stored

    def list(self) -> list[Secret]:
        return [self.secrets[name][0] for name in sorted(self.secrets)]

    def describe(self, names: Sequence[str]) -> dict[str, Secret]:
        return {name: self.secrets[name][0] for name in names if name in self.secrets}

    def delete(self, name: str) -> Secret | None:
        removed = self.secrets.pop(name, None)
        return removed[0] if removed else None

    def reveal(self, names: Sequence[str], execution_id: str) -> dict[str, str]:
        self.reveals.append((tuple(names), execution_id))
        return {name: self.secrets[name][1] for name in names if name in self.secrets}
