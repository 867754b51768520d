"""A run's manifest: what the create function gives the run agent, as a JSON object under
`runs/<execution_id>/manifest.json`, read through a presigned GET URL. Nothing secret is
in it in clear: env values, secret values and a git credential travel in `sealed`,
pieces of KMS ciphertext bound to the execution (encryption context
`execution_id=<id>`), opened only with the run's grant (`grant_token`).

The sealed plaintext (the pieces' plaintexts, concatenated) is JSON:
`{"env": {NAME: value}, "mask": [secret values], "git_credential": str or null}`.
Standard library only: this runs inside the agent's container."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

MANIFEST_VERSION = 2
MAX_MANIFEST_BYTES = 4 * 1024 * 1024


class ManifestInvalid(ValueError):
    """The manifest (or its sealed plaintext) is not what this version describes."""


@dataclass(frozen=True)
class GitSource:
    url: str
    ref: str | None = None
    subdir: str | None = None


@dataclass(frozen=True)
class OutputSlotFields:
    """Where the agent writes the output and its result: a presigned POST form."""

    url: str
    fields: dict[str, str]
    prefix: str
    max_object_bytes: int


@dataclass(frozen=True)
class Manifest:
    execution_id: str
    command: str
    output: OutputSlotFields
    max_log_bytes: int
    sealed: list[str] = field(default_factory=list)  # base64 ciphertext pieces
    grant_token: str | None = None
    git: GitSource | None = None
    upload_url: str | None = None
    stdin_url: str | None = None

    def to_json(self) -> bytes:
        document: dict[str, Any] = {
            "v": MANIFEST_VERSION,
            "execution_id": self.execution_id,
            "command": self.command,
            "output": {
                "url": self.output.url,
                "fields": self.output.fields,
                "prefix": self.output.prefix,
                "max_object_bytes": self.output.max_object_bytes,
            },
            "max_log_bytes": self.max_log_bytes,
        }
        if self.sealed:
            document["sealed"] = self.sealed
            document["grant_token"] = self.grant_token
        if self.git is not None:
            document["git"] = {
                name: value
                for name, value in (
                    ("url", self.git.url),
                    ("ref", self.git.ref),
                    ("subdir", self.git.subdir),
                )
                if value
            }
        for name in ("upload_url", "stdin_url"):
            if getattr(self, name):
                document[name] = getattr(self, name)
        return json.dumps(document).encode()


@dataclass(frozen=True)
class Unsealed:
    """The sealed part, opened: the command's env, the values to mask, a git credential."""

    env: dict[str, str]
    mask: list[str]
    git_credential: str | None = None

    def to_json(self) -> bytes:
        return json.dumps(
            {"env": self.env, "mask": self.mask, "git_credential": self.git_credential}
        ).encode()


def _text(document: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = document.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise ManifestInvalid(f"manifest field {name!r} must be a non-empty string")
    return value


def parse_manifest(raw: bytes) -> Manifest:
    """The manifest in `raw`; ManifestInvalid for anything else."""
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ManifestInvalid("the manifest is too large")
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise ManifestInvalid(f"the manifest is not JSON: {error}") from error
    if not isinstance(document, dict) or document.get("v") != MANIFEST_VERSION:
        raise ManifestInvalid(f"the manifest is not version {MANIFEST_VERSION}")
    output = document.get("output")
    if not isinstance(output, dict) or not isinstance(output.get("fields"), dict):
        raise ManifestInvalid("manifest field 'output' must hold a POST form")
    fields = output["fields"]
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items()):
        raise ManifestInvalid("the output form's fields must be strings")
    max_object_bytes = output.get("max_object_bytes")
    max_log_bytes = document.get("max_log_bytes")
    for name, number in (("max_object_bytes", max_object_bytes), ("max_log_bytes", max_log_bytes)):
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise ManifestInvalid(f"manifest field {name!r} must be a positive integer")
    sealed = document.get("sealed") or []
    if not isinstance(sealed, list) or not all(isinstance(p, str) for p in sealed):
        raise ManifestInvalid("manifest field 'sealed' must be a list of strings")
    git = document.get("git")
    source = None
    if git is not None:
        if not isinstance(git, dict):
            raise ManifestInvalid("manifest field 'git' must be an object")
        source = GitSource(
            url=str(_text(git, "url")),
            ref=_text(git, "ref", required=False),
            subdir=_text(git, "subdir", required=False),
        )
    assert isinstance(max_log_bytes, int) and isinstance(max_object_bytes, int)
    return Manifest(
        execution_id=str(_text(document, "execution_id")),
        command=str(_text(document, "command")),
        output=OutputSlotFields(
            url=str(_text(output, "url")),
            fields=dict(fields),
            prefix=str(_text(output, "prefix")),
            max_object_bytes=max_object_bytes,
        ),
        max_log_bytes=max_log_bytes,
        sealed=list(sealed),
        grant_token=_text(document, "grant_token", required=bool(sealed)),
        git=source,
        upload_url=_text(document, "upload_url", required=False),
        stdin_url=_text(document, "stdin_url", required=False),
    )


def parse_unsealed(raw: bytes) -> Unsealed:
    """The sealed part's plaintext; ManifestInvalid for anything else."""
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise ManifestInvalid("the sealed values are not JSON") from error
    if not isinstance(document, dict):
        raise ManifestInvalid("the sealed values are not an object")
    env = document.get("env") or {}
    mask = document.get("mask") or []
    credential = document.get("git_credential")
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in env.items()
    ):
        raise ManifestInvalid("the sealed env must map names to strings")
    if not isinstance(mask, list) or not all(isinstance(v, str) for v in mask):
        raise ManifestInvalid("the sealed mask values must be strings")
    if credential is not None and not isinstance(credential, str):
        raise ManifestInvalid("the sealed git credential must be a string")
    return Unsealed(env=dict(env), mask=list(mask), git_credential=credential)
