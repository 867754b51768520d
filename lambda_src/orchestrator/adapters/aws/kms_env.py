"""A run's sealed values (env values, secrets, the values to mask, a git credential) sealed
with KMS for the trip to the run agent: the manifest, RunTask's request (and so CloudTrail)
and the ECS task record hold only ciphertext, bound to its execution by the encryption
context.

Nothing holds a standing right to decrypt: for each execution the create function makes a
KMS grant that lets the task role decrypt only with that execution's encryption context,
and the run agent retires it once the values are unsealed; the server revokes it as well
when the launch fails or the run ends (kms_grants.py)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from orchestrator.adapters.aws.kms_grants import RunGrants
from orchestrator.adapters.aws.task_layout import MAX_SEALED_CHUNK_BYTES
from orchestrator.adapters.clock import SystemClock
from orchestrator.agent.manifest import Unsealed
from orchestrator.domain.errors import LaunchFailed
from orchestrator.ports import Clock


@dataclass(frozen=True)
class Sealed:
    pieces: list[str]  # base64 ciphertexts; their plaintexts, concatenated, are Unsealed's JSON
    grant_token: str
    grant_id: str = field(repr=False)


class KmsEnvSealer:
    def __init__(
        self,
        kms: Any,
        key_id: str,
        task_role_arn: str,
        piece_bytes: int = MAX_SEALED_CHUNK_BYTES,
        *,
        clock: Clock | None = None,
    ) -> None:
        """`piece_bytes`: plaintext per KMS piece (KMS takes at most 4 KB); `clock` dates
        the grants (their names carry when they were made, for the sweep)."""
        self._kms = kms
        self._key_id = key_id
        self._task_role_arn = task_role_arn
        self._piece_bytes = piece_bytes
        self._clock = clock or SystemClock()
        self.grants = RunGrants(kms, key_id)

    def seal(self, execution_id: str, values: Unsealed, task_role_arn: str | None = None) -> Sealed:
        """`values` as JSON, sealed in pieces, and a grant to unseal them for the task of
        `execution_id`, whose role (the stack's task role unless the run's image has its
        own) gets it."""
        grantee = task_role_arn or self._task_role_arn
        context = {"execution_id": execution_id}
        plaintext = values.to_json()
        try:
            pieces = [
                base64.b64encode(
                    self._kms.encrypt(
                        KeyId=self._key_id,
                        Plaintext=plaintext[start : start + self._piece_bytes],
                        EncryptionContext=context,
                    )["CiphertextBlob"]
                ).decode()
                for start in range(0, len(plaintext), self._piece_bytes)
            ]
            grant = self.grants.create(execution_id, grantee, context, self._clock.now())
        except (ClientError, BotoCoreError) as error:
            raise LaunchFailed(f"cannot seal the run's values: {error}") from error
        return Sealed(pieces=pieces, grant_token=grant.token, grant_id=grant.grant_id)
