"""Entities and value objects: executions and their lifecycle, locks, users and API keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from orchestrator.domain.limits import (
    DEFAULT_MAX_LOG_BYTES,
    DEFAULT_MAX_RUNNING_PER_USER,
    DEFAULT_MAX_RUNNING_TOTAL,
    DEFAULT_TIMEOUT_SECONDS,
    EMAIL_PATTERN,
    ENV_NAME_PATTERN,
    IMAGE_NAME_PATTERN,
    LOCK_NAME_PATTERN,
    LOCK_NAME_RULE,
    MAX_COMMAND_LENGTH,
    MAX_ENV_ENTRIES,
    MAX_ENV_TOTAL_BYTES,
    MAX_ENV_VALUE_LENGTH,
    MAX_LOG_PAGE_BYTES,
    MAX_LOG_WAIT_SECONDS,
    MAX_PAGE_SIZE,
    MAX_SECRET_BYTES_PER_EXECUTION,
    MAX_SECRET_DESCRIPTION_LENGTH,
    MAX_SECRET_IMAGES,
    MAX_SECRET_VALUE_BYTES,
    MAX_SECRETS_PER_EXECUTION,
    MAX_TIMEOUT_SECONDS,
    PLAYBOOK_NAME_PATTERN,
    SECRET_NAME_PATTERN,
    TextKind,
    env_size,
    is_valid_lock_name,
    text_problem,
)
from orchestrator.domain.warm_tasks import DEFAULT_WARM_IDLE_SECONDS

# What an execution is for: a user's run, or a platform check (`mycli doctor`), which is
# recorded like any run but left out of listings unless they ask for checks.
RUN = "run"
CHECK = "check"
PURPOSES = (RUN, CHECK)

# The request rules live in limits.py (standard library only), and are still read from here.
__all__ = [
    "DEFAULT_MAX_LOG_BYTES",
    "DEFAULT_MAX_RUNNING_PER_USER",
    "DEFAULT_MAX_RUNNING_TOTAL",
    "DEFAULT_TIMEOUT_SECONDS",
    "EMAIL_PATTERN",
    "ENV_NAME_PATTERN",
    "IMAGE_NAME_PATTERN",
    "LOCK_NAME_PATTERN",
    "LOCK_NAME_RULE",
    "MAX_COMMAND_LENGTH",
    "MAX_ENV_ENTRIES",
    "MAX_ENV_TOTAL_BYTES",
    "MAX_ENV_VALUE_LENGTH",
    "MAX_LOG_PAGE_BYTES",
    "MAX_LOG_WAIT_SECONDS",
    "MAX_PAGE_SIZE",
    "MAX_SECRETS_PER_EXECUTION",
    "MAX_SECRET_BYTES_PER_EXECUTION",
    "MAX_SECRET_DESCRIPTION_LENGTH",
    "MAX_SECRET_IMAGES",
    "MAX_SECRET_VALUE_BYTES",
    "MAX_TIMEOUT_SECONDS",
    "PLAYBOOK_NAME_PATTERN",
    "SECRET_NAME_PATTERN",
    "TextKind",
    "env_size",
    "is_valid_lock_name",
    "text_problem",
]


class Role(StrEnum):
    ADMIN = "admin"
    USER = "user"


# A timed-out run's exit code, on every backend and in every view (record, list, status,
# console, API): GNU timeout's, which `mycli exec` exits with. The signal that stopped the
# command (143 SIGTERM, 137 SIGKILL) is not kept.
TIMED_OUT_EXIT_CODE = 124


class ExecutionStatus(StrEnum):
    QUEUED = "QUEUED"  # waiting in its lock's queue (issue 21); nothing launched yet
    PENDING = "PENDING"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    CANCELLING = "CANCELLING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES

    @property
    def rank(self) -> int:
        return _RANK[self]

    def can_move_to(self, target: ExecutionStatus) -> bool:
        """Transitions only move forward, and a terminal status is final."""
        return not self.is_terminal and target.rank > self.rank

    @staticmethod
    def sources_of(target: ExecutionStatus) -> tuple[ExecutionStatus, ...]:
        """Every status from which `target` may be reached (for conditional updates)."""
        return tuple(s for s in ExecutionStatus if s.can_move_to(target))


TERMINAL_STATUSES = frozenset(
    {
        ExecutionStatus.SUCCEEDED,
        ExecutionStatus.FAILED,
        ExecutionStatus.CANCELLED,
        ExecutionStatus.TIMED_OUT,
    }
)
ACTIVE_STATUSES = tuple(s for s in ExecutionStatus if s not in TERMINAL_STATUSES)
_RANK = {
    ExecutionStatus.QUEUED: 0,
    ExecutionStatus.PENDING: 1,
    ExecutionStatus.STARTING: 2,
    ExecutionStatus.RUNNING: 3,
    ExecutionStatus.CANCELLING: 4,
    **{s: 5 for s in TERMINAL_STATUSES},
}


def utc_iso(moment: datetime) -> str:
    """UTC ISO-8601 with milliseconds and a Z, so timestamps sort as strings."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Caller:
    """The authenticated user behind a request."""

    email: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


@dataclass(frozen=True)
class ApiKeyRecord:
    """A stored API key: only its SHA-256 hash, never the key itself."""

    api_key_hash: str
    user_email: str
    role: Role
    created_at: str
    revoked: bool = False
    revoked_at: str | None = None
    last_used: str | None = None


@dataclass(frozen=True)
class UserSummary:
    """A user as admins see it, folded over that user's keys."""

    email: str
    role: Role
    created_at: str
    revoked: bool
    last_used: str | None
    active_keys: int


@dataclass(frozen=True)
class ExecutionRequest:
    """What a caller asked to run (already shape-checked by the API layer)."""

    command: str
    lock: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    timeout_seconds: int | None = None
    upload_id: str | None = None
    stdin_upload_id: str | None = None
    playbook: str | None = None
    image: str | None = None
    cpu: int | None = None
    memory: int | None = None
    # VAR -> secret name: the stored secret's value becomes the command's env var VAR.
    secrets: dict[str, str] = field(default_factory=dict)
    git_url: str | None = None
    git_ref: str | None = None
    git_subdir: str | None = None
    git_secret: str | None = None
    purpose: str = RUN  # CHECK: a platform check (`mycli doctor`), not in default listings
    # With `lock`: when the lock is taken, wait in its queue this long (QUEUED) instead of
    # being refused.
    wait_lock_seconds: int | None = None


@dataclass(frozen=True)
class Execution:
    """One recorded run. `env_names` keeps the names of the env entries, never their values."""

    execution_id: str
    user_email: str
    command: str
    status: ExecutionStatus
    started_at: str
    timeout_seconds: int
    lock_name: str | None = None
    upload_id: str | None = None
    env_names: tuple[str, ...] = ()
    exit_code: int | None = None
    reason: str | None = None
    task_ref: str | None = None
    log_stream_name: str | None = None
    finished_at: str | None = None
    updated_at: str | None = None
    request_id: str | None = None
    cancelled_by: str | None = None
    lock_released_by: str | None = None
    log_truncated_at: int | None = None
    stdin_upload_id: str | None = None
    playbook: str | None = None
    image: str | None = None  # the image it ran on (kept after the image is removed)
    image_uri: str | None = None
    cpu: int | None = None
    memory: int | None = None
    secret_names: tuple[str, ...] = ()  # "VAR=NAME" per secret used; never a value
    git_url: str | None = None
    git_ref: str | None = None
    git_subdir: str | None = None
    git_commit: str | None = None  # the commit the git ref resolved to, once known
    git_secret: str | None = None  # the name of the stored secret git fetched with
    # Of the request behind an Idempotency-Key (domain/idempotency.py): stored, never shown.
    request_fingerprint: str | None = None
    # What the launch holds for the run beyond its task (AWS: the id of its KMS grant), for
    # the runner to free when the run ends: stored, never shown.
    grant_id: str | None = None
    purpose: str = RUN  # RUN or CHECK (PURPOSES); fixed at creation
    # A run that waited for its lock (issue 21): until when it may wait, and when it was
    # given the lock (its timeout counts from then).
    lock_wait_until: str | None = None
    dequeued_at: str | None = None
    # A queued run's env values, sealed (ports.EnvSealer) until its launch: stored, never shown.
    sealed_env: str | None = None
    # How its task started (docs/warm-runners.md): START_WARM, START_COLD, or None (the
    # embedded platform, runs recorded before issue 22, runs never launched).
    start: str | None = None

    @property
    def is_check(self) -> bool:
        return self.purpose == CHECK

    @property
    def launched_from(self) -> str:
        """When its launch began: its creation, or for a queued run when it got its lock."""
        return self.dequeued_at or self.started_at

    @property
    def deadline(self) -> datetime:
        return parse_iso(self.launched_from) + timedelta(seconds=self.timeout_seconds)

    @property
    def waits_in_queue(self) -> bool:
        """Queued and never given its lock (a cancel must take it out of the queue)."""
        return self.lock_wait_until is not None and self.dequeued_at is None

    def to_dict(self) -> dict[str, object]:
        data = dict(self.__dict__)  # the fields, in order (a copy: listings call this a lot)
        del data["request_fingerprint"], data["grant_id"], data["sealed_env"]
        data["status"] = self.status.value
        data["env_names"] = list(self.env_names)
        data["secret_names"] = list(self.secret_names)
        return data


# What a store may change on an execution after it is created (never its identity or start).
EXECUTION_SETTABLE_FIELDS = frozenset(Execution.__dataclass_fields__) - {
    "execution_id",
    "status",
    "started_at",
    "user_email",
    "request_fingerprint",
    "purpose",
    "lock_wait_until",
}


def settable_fields(fields: dict[str, object]) -> dict[str, object]:
    """`fields`, once checked to be ones a store may set on an existing execution."""
    unknown = set(fields) - EXECUTION_SETTABLE_FIELDS
    if unknown:
        raise ValueError(f"not settable on an execution: {sorted(unknown)}")
    return fields


@dataclass(frozen=True)
class RunningCount:
    """How many executions are not yet terminal: the user's own, and everyone's."""

    user: int
    total: int


@dataclass(frozen=True)
class Quota:
    """The running-execution limits and the figures a caller may see (`total` for admins)."""

    max_running_per_user: int
    max_running_total: int
    running: int
    total_running: int | None = None

    def to_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class Lock:
    """A named lock held by one execution until it ends or `expires_at` passes; or a hold
    (domain/lock_queue.py): taken by a person with no run, `reason` set, `execution_id` its
    hold id."""

    lock_name: str
    execution_id: str
    user_email: str
    acquired_at: str
    expires_at: str
    reason: str | None = None

    @property
    def is_hold(self) -> bool:
        return self.reason is not None

    @property
    def ttl(self) -> int:
        """Expiry in epoch seconds (DynamoDB's TTL attribute)."""
        return int(parse_iso(self.expires_at).timestamp())

    def is_active(self, now: datetime) -> bool:
        return self.ttl >= int(now.timestamp())

    def to_dict(self) -> dict[str, object]:
        """Its fields; a run's lock has no `reason` key."""
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__}
        if self.reason is None:
            del fields["reason"]
        return fields


@dataclass(frozen=True)
class Page:
    """One page of a listing; `next_cursor` is opaque and None on the last page."""

    items: list[Execution]
    next_cursor: str | None


class LogStream(StrEnum):
    """Where a chunk of output came from; "combined" when the platform cannot tell."""

    STDOUT = "stdout"
    STDERR = "stderr"
    COMBINED = "combined"


@dataclass(frozen=True)
class LogChunk:
    """Bytes of output exactly as the command wrote them, starting at byte `offset`."""

    offset: int
    stream: LogStream
    timestamp: str
    data: bytes


@dataclass(frozen=True)
class LogPage:
    """Output after a cursor. `at_end`: the page reached the end of what is stored now;
    `complete`: also nothing more will ever come (set by the service, which knows the status);
    `truncated_at`: where storing stopped because the log cap was reached."""

    chunks: list[LogChunk]
    next_cursor: str
    at_end: bool = True
    complete: bool = False
    truncated_at: int | None = None


@dataclass(frozen=True)
class UploadSlot:
    """Where and how a client puts an archive: a URL it PUTs to, with these headers."""

    upload_id: str
    url: str
    method: str
    headers: dict[str, str]
    expires_at: str
    max_bytes: int

    def to_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class Upload:
    """A completed upload: its owner, where the store keeps it, its size, when it arrived."""

    upload_id: str
    user_email: str
    location: str
    size: int
    completed_at: str


class SecretValues(dict[str, str]):
    """Env var name -> a secret's value. Printing it (repr, str, an f-string, a log line
    formatting it) shows the names only."""

    def __repr__(self) -> str:
        return f"SecretValues({sorted(self)})"

    __str__ = __repr__


@dataclass(frozen=True)
class Secret:
    """A stored secret as anyone may see it: its metadata. The value is never part of it.
    `images`: the images whose runs may use it (empty: any run)."""

    name: str
    description: str
    images: tuple[str, ...]
    set_by: str
    set_at: str
    version: int

    def to_dict(self) -> dict[str, object]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["images"] = list(self.images)
        return data


@dataclass(frozen=True)
class GitSource:
    """A repository to run in: `ref` (a branch, tag or full commit id; None: the default
    branch) of `url`, the command in `subdir`. `secret` names the stored secret to fetch
    with; `credential` is its value, resolved for the runner only (never stored or shown)."""

    url: str
    ref: str | None = None
    subdir: str | None = None
    secret: str | None = None
    credential: str | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class LaunchSpec:
    """What a runner needs to start one execution. `upload_location` is where the upload's
    archive is (a path, an S3 key), to unpack into the working directory first;
    `stdin_location` is where the bytes to feed the command's stdin are (None: empty stdin)."""

    execution_id: str
    command: str
    env: dict[str, str]
    timeout_seconds: int
    upload_id: str | None = None
    upload_location: str | None = None
    stdin_location: str | None = None
    # The run's image (see domain/images.py): `image_ref` is the backend's handle on it (an
    # ECS task definition ARN; None locally), the size in Fargate units (CPU units, MiB).
    image: str | None = None
    image_uri: str | None = None
    image_ref: str | None = None
    task_role_arn: str | None = None
    cpu: int | None = None
    memory: int | None = None
    # VAR -> a stored secret's value: only in memory, never in a repr, record or log line.
    secrets: SecretValues = field(default_factory=SecretValues, repr=False)
    git: GitSource | None = None  # check this repository out into the working directory


@dataclass(frozen=True)
class TaskStateChange:
    """What a task-state event says about an execution's task (AWS: an ECS event)."""

    execution_id: str
    last_status: str
    task_ref: str | None = None
    stop_code: str | None = None
    stopped_reason: str | None = None
    exit_code: int | None = None
    container_reason: str | None = None
    setup_failure: str | None = None  # why the run failed without its command's own exit
    git_commit: str | None = None  # the commit the run's git source resolved to
    log_truncated_at: int | None = None  # where the run's output was cut at the log cap
    # The run agent stopped without reporting (AWS: no result object), with this exit code
    # (None: killed without one), while the run was neither cancelled nor timed out.
    agent_stopped: bool = False
    agent_exit_code: int | None = None
    # Why the command's own exit code is not known (its container was killed before it
    # could report one): the exit code, if any, is then the event's.
    exit_unknown: str | None = None


@dataclass(frozen=True)
class RunResult:
    """What a run's agent reports when it finishes (AWS: its result object): the command's
    exit code (None: it never ran, or did not end in time), the commit checked out, why
    the run failed without its command's own exit, and where the output was cut."""

    exit_code: int | None = None
    git_commit: str | None = None
    failure: str | None = None
    truncated_at: int | None = None
    exit_unknown: str | None = None  # why exit_code is None though the command ran


# How a run's task started (AWS): on a warm task claimed from its image's pool, or by RunTask.
START_WARM = "warm"
START_COLD = "cold"
STARTS = (START_WARM, START_COLD)


@dataclass(frozen=True)
class LaunchResult:
    """Where the runner put it: a pid or task ARN, and the log stream it writes; `grant_id`:
    what the launch holds beyond the task (AWS: the run's KMS grant), for `Runner.release`."""

    task_ref: str
    log_stream_name: str
    grant_id: str | None = field(default=None, repr=False)
    start: str | None = None  # START_WARM or START_COLD where the backend has both paths


@dataclass(frozen=True)
class Image:
    """A registered image: what a run executes in (a container image on AWS; informational on
    the embedded host), its task role, its size (Fargate CPU units and MiB) and the largest
    size a run may ask for. `platform_ref` is the backend's handle (an ECS task definition
    ARN), `platform_base` what that handle was made from (the stack's run task definition
    ARN: a handle made from an older one is made again); `secrets` are the names of secrets
    runs on it get by default. `warm` tasks are kept started ahead on AWS, until no run
    asked for the image for `warm_idle_seconds` (docs/warm-runners.md)."""

    name: str
    uri: str
    cpu: int
    memory: int
    max_cpu: int
    max_memory: int
    registered_by: str
    registered_at: str
    description: str = ""
    task_role_arn: str | None = None
    is_default: bool = False
    secrets: tuple[str, ...] = ()
    platform_ref: str | None = None
    platform_base: str | None = None
    warm: int = 0
    warm_idle_seconds: int = DEFAULT_WARM_IDLE_SECONDS

    def to_dict(self) -> dict[str, object]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["secrets"] = list(self.secrets)
        return data
