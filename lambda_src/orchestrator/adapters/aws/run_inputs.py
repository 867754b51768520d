"""A run's inputs for the prepared task: its manifest (the command, the sealed env and its
grant token, presigned GET URLs of the upload and the stdin object, the git source and its
sealed credential), written under runs/
in the CodeBucket, and a presigned GET URL of that manifest for the task's fetch step.

The task itself holds no S3 right: these URLs open exactly this run's objects, for
`URL_LIFETIME_SECONDS` (time enough to pull the images and start)."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from orchestrator.adapters.aws.kms_env import KmsEnvSealer
from orchestrator.adapters.aws.task_layout import RUNS_PREFIX
from orchestrator.domain.errors import LaunchFailed
from orchestrator.domain.models import LaunchSpec

URL_LIFETIME_SECONDS = 3600


def manifest_key(execution_id: str) -> str:
    return f"{RUNS_PREFIX}{execution_id}/manifest.json"


class RunInputs:
    def __init__(self, s3: Any, bucket: str, sealer: KmsEnvSealer | None) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._sealer = sealer

    def publish(self, spec: LaunchSpec) -> str:
        """Write `spec`'s manifest; returns the presigned URL the fetch step reads it from."""
        manifest: dict[str, Any] = {"command": spec.command}
        git_credential = spec.git.credential if spec.git is not None else None
        if spec.env or spec.secrets or git_credential:
            if self._sealer is None:
                raise LaunchFailed("this deployment cannot take env values")
            # Secret values travel like env values, and once more for the output's masker;
            # a git credential only for the clone step.
            sealed = self._sealer.seal(
                spec.execution_id,
                {**spec.env, **spec.secrets},
                list(spec.secrets.values()),
                spec.task_role_arn,
                git_credential,
            )
            manifest["grant_token"] = sealed.grant_token
            for field, pieces in (
                ("sealed_env", sealed.pieces),
                ("sealed_mask", sealed.mask_pieces),
                ("sealed_git_credential", sealed.git_pieces),
            ):
                if pieces:
                    manifest[field] = pieces
        if spec.git is not None:
            git = {"url": spec.git.url, "ref": spec.git.ref, "subdir": spec.git.subdir}
            manifest["git"] = {name: value for name, value in git.items() if value}
        for field, key in (
            ("upload_url", spec.upload_location),
            ("stdin_url", spec.stdin_location),
        ):
            if key:
                manifest[field] = self._presign(key)
        try:
            self._s3.put_object(
                Bucket=self._bucket,
                Key=manifest_key(spec.execution_id),
                Body=json.dumps(manifest).encode(),
                ContentType="application/json",
            )
        except (ClientError, BotoCoreError) as error:
            raise LaunchFailed(f"cannot store the run's inputs: {error}") from error
        return self._presign(manifest_key(spec.execution_id))

    def _presign(self, key: str) -> str:
        url: str = self._s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": self._bucket, "Key": key},
            ExpiresIn=URL_LIFETIME_SECONDS,
            HttpMethod="GET",
        )
        return url
