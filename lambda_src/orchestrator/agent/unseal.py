"""Opens a manifest's sealed part with the run's KMS grant, then retires the grant.

Each piece is decrypted with the encryption context `{"execution_id": <id>}` (the grant
allows nothing else) and the grant token (the grant may not have reached every KMS host
yet); the plaintexts, concatenated, are the JSON orchestrator.agent.manifest describes.
The grant is retired whatever happened, so the run's values cannot be opened again.
boto3 is imported only here, and only when something is sealed; it finds the region,
the credentials (the task role) and any endpoint (AWS_ENDPOINT_URL) where it always does."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from orchestrator.agent.manifest import Manifest, ManifestInvalid, Unsealed, parse_unsealed


class UnsealFailed(Exception):
    """The sealed part could not be opened (the reason holds no value)."""


def kms_client() -> Any:
    import boto3

    return boto3.client("kms")


def unseal(
    manifest: Manifest,
    kms: Any | None = None,
    on_retire_failed: Callable[[str], None] = lambda reason: None,
) -> Unsealed:
    """The manifest's sealed values (empty when nothing is sealed)."""
    if not manifest.sealed:
        return Unsealed(env={}, mask=[])
    token = manifest.grant_token
    assert token is not None  # parse_manifest requires it with sealed pieces
    client = kms if kms is not None else kms_client()
    try:
        plaintext = b"".join(
            _decrypt(client, piece, manifest.execution_id, token) for piece in manifest.sealed
        )
        try:
            return parse_unsealed(plaintext)
        except ManifestInvalid as error:
            raise UnsealFailed(str(error)) from None
    finally:
        try:
            client.retire_grant(GrantToken=token)
        except Exception as error:  # best effort: the grant expires with the key's rules
            on_retire_failed(_described(error))


def _decrypt(client: Any, piece: str, execution_id: str, token: str) -> bytes:
    try:
        blob = base64.b64decode(piece, validate=True)
    except (binascii.Error, ValueError):
        raise UnsealFailed("a sealed piece is not base64") from None
    try:
        answer = client.decrypt(
            CiphertextBlob=blob,
            EncryptionContext={"execution_id": execution_id},
            GrantTokens=[token],
        )
    except Exception as error:
        raise UnsealFailed(f"KMS refused to decrypt: {_described(error)}") from None
    return bytes(answer["Plaintext"])


def _described(error: Exception) -> str:
    """A botocore error's code (never its full text), else the exception's type."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return str(code)
    return type(error).__name__
