"""Env values sealed with KMS for the trip to the task: RunTask's request (and so
CloudTrail), the ECS task record and the run's manifest hold only ciphertext, bound to its
execution by the encryption context.

Nothing holds a standing right to decrypt: for each execution the create function makes a
KMS grant that lets the task role decrypt only with that execution's encryption context,
and the task's prepare step retires it once the env is unsealed."""

from __future__ import annotations

import base64
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from orchestrator.adapters.aws.task_layout import MAX_SEALED_CHUNK_BYTES
from orchestrator.domain.errors import LaunchFailed


def env_file(env: dict[str, str]) -> bytes:
    """A file `sh` can source with `set -a`: one `NAME='value'` line per variable."""
    return "".join(f"{name}={shlex.quote(value)}\n" for name, value in sorted(env.items())).encode()


def mask_file(values: Sequence[str]) -> bytes:
    """The masker's values file: the secret values, NUL-separated (no value holds NUL)."""
    return b"".join(value.encode() + b"\0" for value in values)


@dataclass(frozen=True)
class SealedEnv:
    pieces: list[str]  # base64 ciphertexts; their plaintexts, concatenated, are the env file
    grant_token: str
    mask_pieces: list[str] = field(default_factory=list)  # the same for the masker's values
    git_pieces: list[str] = field(default_factory=list)  # the same for a git credential


class KmsEnvSealer:
    def __init__(self, kms: Any, key_id: str, task_role_arn: str) -> None:
        self._kms = kms
        self._key_id = key_id
        self._task_role_arn = task_role_arn

    def seal(
        self,
        execution_id: str,
        env: dict[str, str],
        mask_values: Sequence[str] = (),
        task_role_arn: str | None = None,
        git_credential: str | None = None,
    ) -> SealedEnv:
        """`env` as a sourceable file, `mask_values` (secret values to mask in the output)
        as the masker's file, and a git source's credential, each sealed in pieces, and a
        grant to unseal them for the task of `execution_id`, whose role (the stack's task
        role unless the run's image has its own) gets it."""
        grantee = task_role_arn or self._task_role_arn
        context = {"execution_id": execution_id}
        try:
            pieces = self._pieces(env_file(env), context)
            mask_pieces = self._pieces(mask_file(mask_values), context)
            git_pieces = self._pieces((git_credential or "").encode(), context)
            grant = self._kms.create_grant(
                KeyId=self._key_id,
                GranteePrincipal=grantee,
                RetiringPrincipal=grantee,
                Operations=["Decrypt"],
                Constraints={"EncryptionContextEquals": context},
                Name=f"mycli-{execution_id}",
            )
        except (ClientError, BotoCoreError) as error:
            raise LaunchFailed(f"cannot seal the env values: {error}") from error
        return SealedEnv(
            pieces=pieces,
            grant_token=str(grant["GrantToken"]),
            mask_pieces=mask_pieces,
            git_pieces=git_pieces,
        )

    def _pieces(self, plaintext: bytes, context: dict[str, str]) -> list[str]:
        return [
            base64.b64encode(
                self._kms.encrypt(
                    KeyId=self._key_id,
                    Plaintext=plaintext[start : start + MAX_SEALED_CHUNK_BYTES],
                    EncryptionContext=context,
                )["CiphertextBlob"]
            ).decode()
            for start in range(0, len(plaintext), MAX_SEALED_CHUNK_BYTES)
        ]
