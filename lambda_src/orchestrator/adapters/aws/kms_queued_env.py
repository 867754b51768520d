"""A queued run's env values on AWS: sealed with the env key under the encryption context
`{"execution_id": ID, "purpose": "queued-env"}` until the run gets its lock.

The function that creates the run seals (kms:Encrypt); only the functions that launch a
promoted run may decrypt, and only under this purpose (the stack's kms:EncryptionContext
condition). A run's task grant names its execution alone as the context, so a task cannot
open a queued run's values, and these functions cannot open a task's."""

from __future__ import annotations

import base64
import json
from typing import Any

from orchestrator.adapters.aws.task_layout import MAX_SEALED_CHUNK_BYTES

PURPOSE = "queued-env"


class KmsQueuedEnvSealer:
    def __init__(self, kms: Any, key_id: str, piece_bytes: int = MAX_SEALED_CHUNK_BYTES) -> None:
        self._kms = kms
        self._key_id = key_id
        self._piece_bytes = piece_bytes

    def seal(self, execution_id: str, env: dict[str, str]) -> str:
        """The values as JSON, in KMS pieces (KMS encrypts at most 4 KB at a time)."""
        plaintext = json.dumps(env).encode()
        pieces = [
            base64.b64encode(
                self._kms.encrypt(
                    KeyId=self._key_id,
                    Plaintext=plaintext[start : start + self._piece_bytes],
                    EncryptionContext=_context(execution_id),
                )["CiphertextBlob"]
            ).decode("ascii")
            for start in range(0, len(plaintext), self._piece_bytes)
        ]
        return json.dumps(pieces)

    def unseal(self, execution_id: str, sealed: str) -> dict[str, str]:
        try:
            pieces = json.loads(sealed)
            plaintext = b"".join(
                self._kms.decrypt(
                    KeyId=self._key_id,
                    CiphertextBlob=base64.b64decode(piece),
                    EncryptionContext=_context(execution_id),
                )["Plaintext"]
                for piece in pieces
            )
            env = json.loads(plaintext)
        except self._kms.exceptions.InvalidCiphertextException as error:
            raise ValueError("the sealed env values are another execution's") from error
        return {str(name): str(value) for name, value in env.items()}


def _context(execution_id: str) -> dict[str, str]:
    return {"execution_id": execution_id, "purpose": PURPOSE}
