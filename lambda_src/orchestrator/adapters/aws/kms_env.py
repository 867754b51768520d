"""Env values sealed with KMS for the trip through ECS: RunTask's request (and so CloudTrail)
and the task's record hold only ciphertext, bound to its execution by the encryption context.
The task's prepare container unseals them with the task role."""

from __future__ import annotations

import base64
import shlex
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from orchestrator.adapters.aws.task_layout import MAX_SEALED_ENV_BYTES
from orchestrator.domain.errors import LaunchFailed
from orchestrator.domain.models import LaunchSpec


def env_file(env: dict[str, str]) -> bytes:
    """A file `sh` can source with `set -a`: one `NAME='value'` line per variable."""
    return "".join(f"{name}={shlex.quote(value)}\n" for name, value in sorted(env.items())).encode()


class KmsEnvSealer:
    def __init__(self, kms: Any, key_id: str) -> None:
        self._kms = kms
        self._key_id = key_id

    def __call__(self, spec: LaunchSpec) -> str:
        plaintext = env_file(spec.env)
        if len(plaintext) > MAX_SEALED_ENV_BYTES:
            raise LaunchFailed(
                f"the env values take {len(plaintext)} bytes; on AWS they must fit in "
                f"{MAX_SEALED_ENV_BYTES}"
            )
        try:
            sealed = self._kms.encrypt(
                KeyId=self._key_id,
                Plaintext=plaintext,
                EncryptionContext={"execution_id": spec.execution_id},
            )["CiphertextBlob"]
        except (ClientError, BotoCoreError) as error:
            raise LaunchFailed(f"cannot seal the env values: {error}") from error
        return base64.b64encode(sealed).decode()
