"""A run's inputs for its run agent: the manifest (orchestrator.agent.manifest, version 2),
written under runs/<execution id>/ in the CodeBucket, and a presigned GET URL of it, which
RunTask's overrides give the agent.

The manifest holds the command, the git source, presigned GET URLs of the upload and the
stdin object, the output slot (a presigned POST policy limited to the run's output prefix)
and the deployment's log cap; env values, secrets (and the values to mask) and a git
credential travel sealed with the run's KMS grant. The task holds no S3 right: these URLs
open exactly this run's objects, the GETs for `URL_LIFETIME_SECONDS` (time enough to pull
the images and start), the output slot for the run's timeout and a margin."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from orchestrator.adapters.aws.kms_env import KmsEnvSealer
from orchestrator.adapters.aws.s3_output import output_slot
from orchestrator.adapters.aws.task_layout import manifest_key
from orchestrator.agent.manifest import GitSource, Manifest, OutputSlotFields, Unsealed
from orchestrator.domain.errors import LaunchFailed
from orchestrator.domain.models import LaunchSpec
from orchestrator.ports import Clock

# At most 10 minutes: the manifest URL is in RunTask's overrides (DescribeTasks and CloudTrail
# show it), and the agent fetches it and the GETs in it as soon as its task starts.
URL_LIFETIME_SECONDS = 600

__all__ = ["URL_LIFETIME_SECONDS", "RunInputs", "manifest_key"]


class RunInputs:
    def __init__(
        self,
        s3: Any,
        bucket: str,
        sealer: KmsEnvSealer | None,
        *,
        clock: Clock,
        max_log_bytes: int,
    ) -> None:
        """`s3` signs with SigV4 (s3_output.SIGV4): the output slot's POST policy needs it."""
        self._s3 = s3
        self._bucket = bucket
        self._sealer = sealer
        self._clock = clock
        self._max_log_bytes = max_log_bytes

    def publish(self, spec: LaunchSpec) -> str:
        """Write `spec`'s manifest; returns the presigned URL the agent reads it from."""
        try:
            manifest = self._manifest(spec)
            self._s3.put_object(
                Bucket=self._bucket,
                Key=manifest_key(spec.execution_id),
                Body=manifest.to_json(),
                ContentType="application/json",
            )
            return self._presign(manifest_key(spec.execution_id))
        except (ClientError, BotoCoreError) as error:
            raise LaunchFailed(f"cannot store the run's inputs: {error}") from error

    def _manifest(self, spec: LaunchSpec) -> Manifest:
        slot = output_slot(
            self._s3, self._bucket, spec.execution_id, spec.timeout_seconds, self._clock.now()
        )
        sealed: list[str] = []
        grant_token = None
        credential = spec.git.credential if spec.git is not None else None
        if spec.env or spec.secrets or credential:
            if self._sealer is None:
                raise LaunchFailed("this deployment cannot take env values")
            unsealed = Unsealed(
                env={**spec.env, **spec.secrets},
                mask=list(spec.secrets.values()),
                git_credential=credential,
            )
            sealing = self._sealer.seal(spec.execution_id, unsealed, spec.task_role_arn)
            sealed, grant_token = sealing.pieces, sealing.grant_token
        return Manifest(
            execution_id=spec.execution_id,
            command=spec.command,
            output=OutputSlotFields(
                url=slot.url,
                fields=slot.fields,
                prefix=slot.prefix,
                max_object_bytes=slot.max_object_bytes,
            ),
            max_log_bytes=self._max_log_bytes,
            sealed=sealed,
            grant_token=grant_token,
            git=(
                GitSource(url=spec.git.url, ref=spec.git.ref, subdir=spec.git.subdir)
                if spec.git is not None
                else None
            ),
            upload_url=self._presign(spec.upload_location) if spec.upload_location else None,
            stdin_url=self._presign(spec.stdin_location) if spec.stdin_location else None,
        )

    def _presign(self, key: str) -> str:
        url: str = self._s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": self._bucket, "Key": key},
            ExpiresIn=URL_LIFETIME_SECONDS,
            HttpMethod="GET",
        )
        return url
