"""What a create request needs before it can run, checked and resolved: its timeout, image
and size, git source (with its credential), uploads and secrets. Anything that refuses the
request happens here, before a lock is taken or a record written."""

from __future__ import annotations

from dataclasses import dataclass, replace

from orchestrator.domain.errors import ValidationFailed
from orchestrator.domain.git_sources import checked_source
from orchestrator.domain.images import ImageService, RunImage
from orchestrator.domain.models import (
    MAX_ENV_TOTAL_BYTES,
    PURPOSES,
    Caller,
    Execution,
    ExecutionRequest,
    ExecutionStatus,
    GitSource,
    LaunchSpec,
    Upload,
    env_size,
)
from orchestrator.domain.secrets import (
    NO_SECRETS,
    ResolvedSecrets,
    SecretService,
    secret_reference,
)
from orchestrator.domain.uploads import UploadService

# How a git source's secret is named when it is resolved (never an env var of the command).
GIT_CREDENTIAL = "MYCLI_GIT_CREDENTIAL"


@dataclass(frozen=True)
class ResolvedInputs:
    """A request's inputs, checked and resolved."""

    timeout: int
    run_image: RunImage | None
    git: GitSource | None
    upload: Upload | None
    stdin: Upload | None
    secrets: ResolvedSecrets

    def pending_record(
        self,
        caller: Caller,
        request: ExecutionRequest,
        execution_id: str,
        now: str,
        request_id: str | None,
        fingerprint: str | None,
    ) -> Execution:
        """The PENDING execution to record: names of env entries and secrets, never values."""
        git = self.git
        execution = Execution(
            execution_id=execution_id,
            user_email=caller.email,
            command=request.command,
            status=ExecutionStatus.PENDING,
            started_at=now,
            updated_at=now,
            timeout_seconds=self.timeout,
            lock_name=request.lock,
            upload_id=request.upload_id,
            stdin_upload_id=request.stdin_upload_id,
            playbook=request.playbook,
            purpose=request.purpose,
            env_names=tuple(sorted(request.env)),
            request_id=request_id,
            secret_names=self.secrets.names,
            git_url=git.url if git else None,
            git_ref=git.ref if git else None,
            git_subdir=git.subdir if git else None,
            git_secret=git.secret if git else None,
            request_fingerprint=fingerprint,
        )
        return record_image(execution, self.run_image)


class RunInputs:
    """Checks and resolves a request's inputs through the services that own them."""

    def __init__(
        self,
        default_timeout: int,
        max_timeout: int,
        images: ImageService | None = None,
        uploads: UploadService | None = None,
        secrets: SecretService | None = None,
    ) -> None:
        self._default_timeout = default_timeout
        self._max_timeout = max_timeout
        self._images = images
        self._uploads = uploads
        self._secrets = secrets

    def resolve(
        self, caller: Caller, request: ExecutionRequest, execution_id: str
    ) -> ResolvedInputs:
        """Every input of `request` checked and resolved, or the reason it is refused."""
        timeout = self.timeout_for(request.timeout_seconds)
        if env_size(request.env) > MAX_ENV_TOTAL_BYTES:
            raise ValidationFailed(
                f"env names and values take more than {MAX_ENV_TOTAL_BYTES} bytes"
            )
        if request.purpose not in PURPOSES:
            raise ValidationFailed(f"purpose must be one of {', '.join(PURPOSES)}")
        run_image = self.image_for(request)
        return ResolvedInputs(
            timeout=timeout,
            run_image=run_image,
            git=self.git_source_for(request, execution_id, run_image),
            upload=self.upload_for(caller, request.upload_id),
            stdin=self.upload_for(caller, request.stdin_upload_id),
            secrets=self.secrets_for(request, execution_id, run_image),
        )

    def timeout_for(self, requested: int | None) -> int:
        timeout = self._default_timeout if requested is None else requested
        if not 1 <= timeout <= self._max_timeout:
            raise ValidationFailed(
                f"timeout_seconds must be between 1 and {self._max_timeout}",
                {"timeout_seconds": timeout},
            )
        return timeout

    def image_for(self, request: ExecutionRequest) -> RunImage | None:
        if self._images is None:
            if request.image is not None or request.cpu is not None or request.memory is not None:
                raise ValidationFailed("this server has no images")
            return None
        return self._images.for_run(request)

    def git_source_for(
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

    def upload_for(self, caller: Caller, upload_id: str | None) -> Upload | None:
        if upload_id is None:
            return None
        if self._uploads is None:
            raise ValidationFailed("this server takes no uploads")
        return self._uploads.require(caller, upload_id)

    def secrets_for(
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


def record_image(execution: Execution, run_image: RunImage | None) -> Execution:
    """What an execution records about its image: enough to read after the image is gone."""
    if run_image is None:
        return execution
    image = run_image.image
    return replace(
        execution, image=image.name, image_uri=image.uri, cpu=run_image.cpu, memory=run_image.memory
    )


def launch_on_image(spec: LaunchSpec, run_image: RunImage | None) -> LaunchSpec:
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
