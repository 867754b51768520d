"""Execution lifecycle: create (lock, record, launch), read, list, logs, cancel, and the
terminal transitions reported by a runner or by task events."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta

from orchestrator.domain.errors import (
    Conflict,
    Forbidden,
    LaunchFailed,
    LockHeld,
    MycliError,
    NotFound,
    TooManyExecutions,
    ValidationFailed,
)
from orchestrator.domain.git_sources import checked_source
from orchestrator.domain.images import ImageService, RunImage
from orchestrator.domain.models import (
    DEFAULT_MAX_RUNNING_PER_USER,
    DEFAULT_MAX_RUNNING_TOTAL,
    DEFAULT_TIMEOUT_SECONDS,
    MAX_ENV_TOTAL_BYTES,
    MAX_LOG_PAGE_BYTES,
    MAX_LOG_WAIT_SECONDS,
    MAX_PAGE_SIZE,
    MAX_TIMEOUT_SECONDS,
    Caller,
    Execution,
    ExecutionRequest,
    ExecutionStatus,
    GitSource,
    LaunchResult,
    LaunchSpec,
    Lock,
    LogPage,
    Page,
    Quota,
    SecretValues,
    TaskStateChange,
    Upload,
    env_size,
    utc_iso,
)
from orchestrator.domain.secrets import (
    NO_SECRETS,
    ResolvedSecrets,
    SecretService,
    secret_reference,
)
from orchestrator.domain.uploads import UploadService
from orchestrator.ports import (
    Clock,
    ExecutionStore,
    LockStore,
    LogReader,
    LogWaiter,
    Metrics,
    NoLogWait,
    NoMetrics,
    Runner,
)

Status = ExecutionStatus
# How a git source's secret is named when it is resolved (never an env var of the command).
GIT_CREDENTIAL = "MYCLI_GIT_CREDENTIAL"


@dataclass(frozen=True)
class ExecutionPolicy:
    """Tunables: timeouts, how long past its timeout a lock outlives a silent holder, and how
    many executions may be running (not terminal) at once, per user and in total."""

    default_timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS
    max_timeout_seconds: int = MAX_TIMEOUT_SECONDS
    lock_grace_seconds: int = 300
    max_running_per_user: int = DEFAULT_MAX_RUNNING_PER_USER
    max_running_total: int = DEFAULT_MAX_RUNNING_TOTAL


def new_execution_id() -> str:
    return uuid.uuid4().hex


# Fixed forever: execution ids derived from idempotency keys must not change between releases.
IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1d3c9e-8a52-4b7e-9d0a-2c4e5f718293")


def idempotent_execution_id(user_email: str, idempotency_key: str) -> str:
    """The execution id a user's Idempotency-Key stands for (the same key -> the same id)."""
    return uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{user_email}\n{idempotency_key}").hex


def outcome_of_exit(
    execution: Execution, exit_code: int, *, timed_out: bool
) -> tuple[ExecutionStatus, str | None]:
    """The terminal status and reason for a process or task that ended with `exit_code`."""
    if timed_out:
        return Status.TIMED_OUT, f"timed out after {execution.timeout_seconds}s"
    if execution.status is Status.CANCELLING:
        return Status.CANCELLED, f"cancelled by {execution.cancelled_by or 'an administrator'}"
    if exit_code == 0:
        return Status.SUCCEEDED, None
    return Status.FAILED, f"exited with code {exit_code}"


TIMEOUT_STOP_PREFIX = "mycli: timed out"
ABANDONED = "failed to start: internal error"


def outcome_of_stop(
    execution: Execution, change: TaskStateChange
) -> tuple[ExecutionStatus, str | None]:
    """The terminal status and reason for a stopped task."""
    stopped_reason = change.stopped_reason or ""
    if change.setup_failure:
        return Status.FAILED, change.setup_failure
    if stopped_reason.startswith(TIMEOUT_STOP_PREFIX):
        return Status.TIMED_OUT, f"timed out after {execution.timeout_seconds}s"
    if change.stop_code == "UserInitiated" or execution.status is Status.CANCELLING:
        return Status.CANCELLED, f"cancelled by {execution.cancelled_by or 'an administrator'}"
    if change.exit_code is not None:
        return outcome_of_exit(execution, change.exit_code, timed_out=False)
    why = "; ".join(part for part in (stopped_reason, change.container_reason) if part)
    if change.stop_code == "TaskFailedToStart":
        return Status.FAILED, f"failed to start: {why or 'no reason given'}"
    return Status.FAILED, f"task stopped: {why or 'no reason given'}"


class ExecutionService:
    """Everything that happens to an execution, whoever hosts it."""

    def __init__(
        self,
        executions: ExecutionStore,
        locks: LockStore,
        runner: Runner,
        log_reader: LogReader,
        clock: Clock,
        policy: ExecutionPolicy | None = None,
        metrics: Metrics | None = None,
        new_id: Callable[[], str] = new_execution_id,
        uploads: UploadService | None = None,
        log_waiter: LogWaiter | None = None,
        images: ImageService | None = None,
        secrets: SecretService | None = None,
    ) -> None:
        self._executions = executions
        self._locks = locks
        self._runner = runner
        self._log_reader = log_reader
        self._clock = clock
        self._policy = policy or ExecutionPolicy()
        self._metrics = metrics or NoMetrics()
        self._new_id = new_id
        self._uploads = uploads
        self._log_waiter = log_waiter or NoLogWait()
        self._images = images
        self._secrets = secrets
        # Counting running executions and recording a new one happen under this lock, so
        # one host's concurrent requests cannot all pass the same count (the embedded server
        # is one process; on AWS each container serves one request at a time anyway).
        self._admission = threading.Lock()

    # -- commands ---------------------------------------------------------------------------

    def start(
        self,
        caller: Caller,
        request: ExecutionRequest,
        request_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Execution:
        """Validate, check the quota, take the lock, record PENDING, launch, record STARTING.

        Everything that can refuse the request is checked before the lock is taken. After
        that, any failure that leaves no terminal execution recorded (storage, launch, an
        unexpected exception) releases the lock this request took before the error goes
        out. A launch failure records FAILED with the reason and frees the lock; the failed
        execution is returned rather than raised, so the caller sees why. A repeated
        `idempotency_key` from the same user returns the first execution, started once (and
        never releases the first request's lock)."""
        execution_id = self._new_id()
        if idempotency_key is not None:
            execution_id = idempotent_execution_id(caller.email, idempotency_key)
            existing = self._executions.get(execution_id)
            if existing is not None:
                return existing
        timeout = self._timeout_for(request.timeout_seconds)
        if env_size(request.env) > MAX_ENV_TOTAL_BYTES:
            raise ValidationFailed(
                f"env names and values take more than {MAX_ENV_TOTAL_BYTES} bytes"
            )
        run_image = self._image_for(request)
        git = self._git_source_for(request, execution_id, run_image)
        upload = self._upload_for(caller, request.upload_id)
        stdin = self._upload_for(caller, request.stdin_upload_id)
        secrets = self._secrets_for(request, execution_id, run_image)
        now = self._clock.now()
        execution = Execution(
            execution_id=execution_id,
            user_email=caller.email,
            command=request.command,
            status=Status.PENDING,
            started_at=utc_iso(now),
            updated_at=utc_iso(now),
            timeout_seconds=timeout,
            lock_name=request.lock,
            upload_id=request.upload_id,
            stdin_upload_id=request.stdin_upload_id,
            playbook=request.playbook,
            env_names=tuple(sorted(request.env)),
            request_id=request_id,
            secret_names=secrets.names,
            git_url=git.url if git else None,
            git_ref=git.ref if git else None,
            git_subdir=git.subdir if git else None,
            git_secret=git.secret if git else None,
        )
        execution = _record_image(execution, run_image)
        acquired = False
        try:
            with self._admission:
                self._admit(caller)
                if request.lock:
                    self._acquire_lock(request.lock, execution)
                    acquired = True
                self._executions.create(execution)
        except (LockHeld, Conflict, TooManyExecutions) as refused:
            if acquired and request.lock:
                self._locks.release(request.lock, execution_id)
            return self._repeated(execution_id, idempotency_key, refused)
        except BaseException:
            if acquired and request.lock:
                self._locks.release(request.lock, execution_id)
            raise
        return self._launch(execution, request, upload, stdin, run_image, secrets.values, git)

    def _image_for(self, request: ExecutionRequest) -> RunImage | None:
        if self._images is None:
            if request.image is not None or request.cpu is not None or request.memory is not None:
                raise ValidationFailed("this server has no images")
            return None
        return self._images.for_run(request)

    def _repeated(
        self, execution_id: str, idempotency_key: str | None, refused: MycliError
    ) -> Execution:
        """The answer to a refused create: the first execution when this is a concurrent
        repeat of an Idempotency-Key (the lock or the record is that very execution's),
        otherwise the refusal itself."""
        if idempotency_key is None:
            raise refused
        first = self._executions.get(execution_id)
        if first is not None:
            return first
        ours = refused.details.get("execution_id", execution_id) == execution_id
        if isinstance(refused, TooManyExecutions) or not ours:
            raise refused
        raise Conflict("a request with this Idempotency-Key is in progress") from refused

    def _abandon(self, execution: Execution, launched: LaunchResult | None) -> None:
        """After a recorded execution's launch blew up unexpectedly: stop what may have
        started, record FAILED, and whatever else fails meanwhile, free the lock."""
        try:
            # Best effort: the error that brought us here is the one to report.
            with contextlib.suppress(Exception):
                if launched is not None:
                    self._runner.stop(replace(execution, task_ref=launched.task_ref), ABANDONED)
            with contextlib.suppress(Exception):
                self.finish(execution.execution_id, Status.FAILED, reason=ABANDONED)
        finally:
            if execution.lock_name:
                self._locks.release(execution.lock_name, execution.execution_id)

    def quota(self, caller: Caller) -> Quota:
        """The running-execution limits, the caller's running count, and for an admin the
        platform's."""
        running = self._executions.count_active(caller.email)
        return Quota(
            max_running_per_user=self._policy.max_running_per_user,
            max_running_total=self._policy.max_running_total,
            running=running.user,
            total_running=running.total if caller.is_admin else None,
        )

    def cancel(self, caller: Caller, execution_id: str) -> Execution:
        """Ask a running execution to stop; a finished one is returned as it is."""
        execution = self.get(caller, execution_id)
        if execution.status.is_terminal or execution.status is Status.CANCELLING:
            return execution
        cancelling = self._executions.advance(
            execution_id,
            Status.CANCELLING,
            updated_at=self._now(),
            cancelled_by=caller.email,
        )
        if cancelling is None:
            return self._require(execution_id)
        if cancelling.task_ref:
            self._runner.stop(cancelling, f"cancelled by {caller.email}")
        return cancelling

    def on_running(self, execution_id: str) -> None:
        self._executions.advance(execution_id, Status.RUNNING, updated_at=self._now())

    def on_exit(self, execution_id: str, exit_code: int, *, timed_out: bool) -> None:
        execution = self._executions.get(execution_id)
        if execution is None:
            return
        status, reason = outcome_of_exit(execution, exit_code, timed_out=timed_out)
        self.finish(execution_id, status, exit_code=exit_code, reason=reason)

    def on_log_truncated(self, execution_id: str, offset: int) -> None:
        self._executions.annotate(execution_id, log_truncated_at=offset)

    def on_git_commit(self, execution_id: str, commit: str) -> None:
        """The run's git ref resolved to `commit`: the audit trail keeps it."""
        self._executions.annotate(execution_id, git_commit=commit)

    def on_setup_failed(self, execution_id: str, reason: str) -> None:
        """The run's set-up (its git checkout, its upload's unpack) failed, so the command
        never ran."""
        self.finish(execution_id, Status.FAILED, reason=reason)

    def on_task_event(self, change: TaskStateChange) -> Execution | None:
        """Apply a task-state event; returns the execution as it stands afterwards, or None
        when the event is not about a task of ours. Duplicate and stale events change
        nothing, because every transition only moves forward."""
        execution = self._executions.get(change.execution_id)
        if execution is None or (
            execution.task_ref and change.task_ref and execution.task_ref != change.task_ref
        ):
            return None
        if change.git_commit and not execution.git_commit:
            self.on_git_commit(change.execution_id, change.git_commit)
        if change.last_status == "RUNNING":
            running = self._executions.advance(
                change.execution_id, Status.RUNNING, updated_at=self._now()
            )
            return running or execution
        if change.last_status != "STOPPED":
            return execution
        status, reason = outcome_of_stop(execution, change)
        return self.finish(change.execution_id, status, exit_code=change.exit_code, reason=reason)

    def finish(
        self,
        execution_id: str,
        status: ExecutionStatus,
        *,
        exit_code: int | None = None,
        reason: str | None = None,
    ) -> Execution | None:
        """Record a terminal status (only if still running) and release the execution's lock.

        Safe to repeat: a replayed finish changes nothing but still makes sure the lock is free."""
        now = self._now()
        updated = self._executions.advance(
            execution_id,
            status,
            updated_at=now,
            finished_at=now,
            exit_code=exit_code,
            reason=reason,
        )
        current = updated or self._executions.get(execution_id)
        if current is not None and current.lock_name and current.status.is_terminal:
            self._locks.release(current.lock_name, execution_id)
        return current

    def fail_unfinished(self, reason: str) -> list[Execution]:
        """Mark every non-terminal execution FAILED (the host that ran them is gone)."""
        failed = []
        for execution in self._executions.list_active():
            finished = self.finish(execution.execution_id, Status.FAILED, reason=reason)
            if finished is not None:
                failed.append(finished)
        return failed

    # -- queries ----------------------------------------------------------------------------

    def get(self, caller: Caller, execution_id: str) -> Execution:
        """The execution, if the caller owns it or is an admin; otherwise it does not exist."""
        execution = self._executions.get(execution_id)
        if execution is None or not (caller.is_admin or execution.user_email == caller.email):
            raise NotFound(f"execution {execution_id} not found")
        return execution

    def list_page(
        self,
        caller: Caller,
        *,
        user: str | None = None,
        status: ExecutionStatus | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> Page:
        """Newest first: a user's own executions, or for an admin everyone's (or `user`'s)."""
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValidationFailed(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        if not caller.is_admin and user not in (None, caller.email):
            raise Forbidden("only admins can list other users' executions")
        user_email = user if caller.is_admin else caller.email
        return self._executions.list_page(
            user_email=user_email, status=status, limit=limit, cursor=cursor
        )

    def logs(
        self,
        caller: Caller,
        execution_id: str,
        cursor: str | None = None,
        max_bytes: int = MAX_LOG_PAGE_BYTES,
        wait_seconds: float = 0.0,
    ) -> tuple[Execution, LogPage]:
        """The execution and at most `max_bytes` of its output after `cursor`.

        With `wait_seconds`, a page with nothing new for a running execution is held until
        output arrives or the execution ends (as long as the host allows). The status is read
        before the page, so `complete` (terminal, and the page reached the end) is exact."""
        if not 1 <= max_bytes <= MAX_LOG_PAGE_BYTES:
            raise ValidationFailed(f"max_bytes must be between 1 and {MAX_LOG_PAGE_BYTES}")
        if not 0 <= wait_seconds <= MAX_LOG_WAIT_SECONDS:
            raise ValidationFailed(f"wait must be between 0 and {MAX_LOG_WAIT_SECONDS:g}")
        execution = self.get(caller, execution_id)
        page = self._read_logs(execution, cursor, max_bytes)
        if wait_seconds > 0 and not page.chunks and not execution.status.is_terminal:
            self._log_waiter.wait(execution_id, page.next_cursor, wait_seconds)
            execution = self.get(caller, execution_id)
            page = self._read_logs(execution, cursor, max_bytes)
        truncated_at = (
            page.truncated_at if page.truncated_at is not None else execution.log_truncated_at
        )
        complete = execution.status.is_terminal and page.at_end
        return execution, replace(page, complete=complete, truncated_at=truncated_at)

    def _read_logs(self, execution: Execution, cursor: str | None, max_bytes: int) -> LogPage:
        if not execution.log_stream_name:  # never launched: nothing was ever written
            return LogPage(chunks=[], next_cursor=cursor or "", at_end=True)
        return self._log_reader.read(execution, cursor, max_bytes)

    # -- internals --------------------------------------------------------------------------

    def _timeout_for(self, requested: int | None) -> int:
        timeout = self._policy.default_timeout_seconds if requested is None else requested
        if not 1 <= timeout <= self._policy.max_timeout_seconds:
            raise ValidationFailed(
                f"timeout_seconds must be between 1 and {self._policy.max_timeout_seconds}",
                {"timeout_seconds": timeout},
            )
        return timeout

    def _admit(self, caller: Caller) -> None:
        """Refuse (429) a new execution over the per-user or the total running limit."""
        running = self._executions.count_active(caller.email)
        per_user, total = self._policy.max_running_per_user, self._policy.max_running_total
        details = {
            "max_running_per_user": per_user,
            "max_running_total": total,
            "running": running.user,
        }
        if running.user >= per_user:
            raise TooManyExecutions(
                f"too many executions: you have {running.user} running, the limit is "
                f"{per_user} per user; wait for one to finish",
                details,
            )
        if running.total >= total:
            raise TooManyExecutions(
                f"too many executions: {running.total} running on the platform, the limit is "
                f"{total}; wait for one to finish",
                {**details, "total_running": running.total},
            )

    def _acquire_lock(self, lock_name: str, execution: Execution) -> None:
        now = self._clock.now()
        expires = now + timedelta(
            seconds=execution.timeout_seconds + self._policy.lock_grace_seconds
        )
        lock = Lock(
            lock_name=lock_name,
            execution_id=execution.execution_id,
            user_email=execution.user_email,
            acquired_at=utc_iso(now),
            expires_at=utc_iso(expires),
        )
        holder = self._locks.acquire(lock, now)
        if holder is not None:
            self._metrics.count("LockConflicts")
            raise LockHeld(
                f"lock '{lock_name}' is held by {holder.user_email} "
                f"(execution {holder.execution_id}) until {holder.expires_at}",
                {
                    "lock_name": lock_name,
                    "holder": holder.user_email,
                    "execution_id": holder.execution_id,
                    "expires_at": holder.expires_at,
                },
            )

    def _git_source_for(
        self, request: ExecutionRequest, execution_id: str, run_image: RunImage | None
    ) -> GitSource | None:
        """The checked git source of `request` (None without one), with its credential: the
        value of the stored secret it names, resolved like the run's other secrets."""
        git = checked_source(
            request.git_url, request.git_ref, request.git_subdir, request.git_secret
        )
        if git is None:
            return None
        if request.upload_id is not None:
            raise ValidationFailed("a run takes its code from git_url or upload_id, not both")
        if git.secret is None:
            return git
        if self._secrets is None:
            raise ValidationFailed("git_secret: this server keeps no secrets")
        wanted = {GIT_CREDENTIAL: git.secret}
        image = run_image.image.name if run_image else request.image
        resolved = self._secrets.resolve(wanted, image, execution_id)
        return replace(git, credential=resolved.values[GIT_CREDENTIAL])

    def _upload_for(self, caller: Caller, upload_id: str | None) -> Upload | None:
        if upload_id is None:
            return None
        if self._uploads is None:
            raise ValidationFailed("this server takes no uploads")
        return self._uploads.require(caller, upload_id)

    def _secrets_for(
        self, request: ExecutionRequest, execution_id: str, run_image: RunImage | None
    ) -> ResolvedSecrets:
        """The run's secrets, checked (known, allowed on its image, no clash with `env`):
        the ones it asked for, plus its image's defaults for variables it did not set."""
        clash = sorted(set(request.env) & set(request.secrets))
        if clash:
            raise ValidationFailed(
                f"{', '.join(clash)} set both as env and as a secret", {"variables": clash}
            )
        defaults = dict(map(secret_reference, run_image.image.secrets)) if run_image else {}
        wanted = {k: v for k, v in defaults.items() if k not in request.env} | request.secrets
        if not wanted:
            return NO_SECRETS
        if self._secrets is None:
            raise ValidationFailed("this server keeps no secrets")
        image = run_image.image.name if run_image else request.image
        return self._secrets.resolve(wanted, image, execution_id)

    def _launch(
        self,
        execution: Execution,
        request: ExecutionRequest,
        upload: Upload | None,
        stdin: Upload | None,
        run_image: RunImage | None = None,
        secret_values: SecretValues | None = None,
        git: GitSource | None = None,
    ) -> Execution:
        spec = LaunchSpec(
            execution_id=execution.execution_id,
            command=execution.command,
            env=dict(request.env),
            timeout_seconds=execution.timeout_seconds,
            upload_id=execution.upload_id,
            upload_location=upload.location if upload else None,
            stdin_location=stdin.location if stdin else None,
            secrets=secret_values or SecretValues(),
            git=git,
        )
        spec = _launch_on_image(spec, run_image)
        launched: LaunchResult | None = None
        try:
            try:
                launched = self._runner.launch(spec)
            except LaunchFailed as exc:
                self._metrics.count("FailedToStart")
                failed = self.finish(
                    execution.execution_id, Status.FAILED, reason=f"failed to start: {exc}"
                )
                return failed or execution
            self._metrics.count("ExecutionsStarted")
            self._executions.annotate(
                execution.execution_id,
                task_ref=launched.task_ref,
                log_stream_name=launched.log_stream_name,
            )
            starting = self._executions.advance(
                execution.execution_id, Status.STARTING, updated_at=self._now()
            )
            if starting is not None:
                return starting
            # The runner already reported progress, or a cancel arrived while launching.
            current = self._require(execution.execution_id)
            if current.status is Status.CANCELLING:
                self._runner.stop(current, f"cancelled by {current.cancelled_by}")
            return current
        except BaseException:
            self._abandon(execution, launched)
            raise

    def _require(self, execution_id: str) -> Execution:
        execution = self._executions.get(execution_id)
        if execution is None:
            raise NotFound(f"execution {execution_id} not found")
        return execution

    def _now(self) -> str:
        return utc_iso(self._clock.now())


def _record_image(execution: Execution, run_image: RunImage | None) -> Execution:
    """What an execution records about its image: enough to read after the image is gone."""
    if run_image is None:
        return execution
    image = run_image.image
    return replace(
        execution, image=image.name, image_uri=image.uri, cpu=run_image.cpu, memory=run_image.memory
    )


def _launch_on_image(spec: LaunchSpec, run_image: RunImage | None) -> LaunchSpec:
    if run_image is None:
        return spec
    image = run_image.image
    return replace(
        spec,
        image=image.name,
        image_uri=image.uri,
        image_ref=image.platform_ref,
        task_role_arn=image.task_role_arn,
        cpu=run_image.cpu,
        memory=run_image.memory,
    )
