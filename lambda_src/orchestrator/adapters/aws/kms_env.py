"""Env values sealed with KMS for the trip to the task: RunTask's request (and so
CloudTrail), the ECS task record and the run's manifest hold only ciphertext, bound to its
execution by the encryption context.

Nothing holds a standing right to decrypt: for each execution the create function makes a
KMS grant that lets the task role decrypt only with that execution's encryption context,
and the task's prepare step retires it once the env is unsealed."""

from __future__ import annotations

import base64
import shlex
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from orchestrator.adapters.aws.task_layout import MAX_SEALED_CHUNK_BYTES
from orchestrator.domain.errors import LaunchFailed


def env_file(env: dict[str, str]) -> bytes:
    """A file `sh` can source with `set -a`: one `NAME='value'` line per variable."""
    return "".join(f"{name}={shlex.quote(value)}\n" for name, value in sorted(env.items())).encode()


@dataclass(frozen=True)
class SealedEnv:
    pieces: list[str]  # base64 ciphertexts; their plaintexts, concatenated, are the env file
    grant_token: str


@dataclass(frozen=True)
class SealedParts:
    pieces: dict[str, list[str]]  # by part name, as SealedEnv.pieces
    grant_token: str


class KmsEnvSealer:
    def __init__(self, kms: Any, key_id: str, task_role_arn: str) -> None:
        self._kms = kms
        self._key_id = key_id
        self._task_role_arn = task_role_arn

    def seal(self, execution_id: str, env: dict[str, str]) -> SealedEnv:
        sealed = self.seal_parts(execution_id, {"env": env_file(env)})
        return SealedEnv(pieces=sealed.pieces["env"], grant_token=sealed.grant_token)

    def seal_parts(self, execution_id: str, parts: dict[str, bytes]) -> SealedParts:
        """Seal each named plaintext (the env file, a git credential) for `execution_id`,
        all opened by one grant."""
        context = {"execution_id": execution_id}
        try:
            pieces = {
                name: [
                    base64.b64encode(
                        self._kms.encrypt(
                            KeyId=self._key_id,
                            Plaintext=plaintext[start : start + MAX_SEALED_CHUNK_BYTES],
                            EncryptionContext=context,
                        )["CiphertextBlob"]
                    ).decode()
                    for start in range(0, len(plaintext), MAX_SEALED_CHUNK_BYTES)
                ]
                for name, plaintext in parts.items()
            }
            grant = self._kms.create_grant(
                KeyId=self._key_id,
                GranteePrincipal=self._task_role_arn,
                RetiringPrincipal=self._task_role_arn,
                Operations=["Decrypt"],
                Constraints={"EncryptionContextEquals": context},
                Name=f"mycli-{execution_id}",
            )
        except (ClientError, BotoCoreError) as error:
            raise LaunchFailed(f"cannot seal the env values: {error}") from error
        return SealedParts(pieces=pieces, grant_token=str(grant["GrantToken"]))
