"""Secrets on AWS: SSM Parameter Store, under a path the stack owns.

Each secret is two parameters: its value, a SecureString encrypted with the stack's secrets
key (`<path>secrets/NAME`), and its metadata, a plain String holding JSON (description,
images, who set it and when, version) at `<path>secret-meta/NAME`, so listing and checking
a run's secrets never decrypts anything. Both use the Intelligent-Tiering tier: standard
(free) up to 4 KB, advanced above.

The metadata is written last and is what makes a write count: it names the value's version,
and a run reads exactly that version. A write whose metadata fails is rolled back: a value it
created is deleted (no orphan), and a value it replaced stays unread (the metadata still
names the previous version, whose value SSM keeps in the parameter's history).

Every write and every use is recorded: SSM keeps each parameter's history and CloudTrail
the calls, and this adapter logs one structured line per write, delete and use (names,
versions, who or which execution; never a value)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from orchestrator.domain.models import Secret

logger = logging.getLogger(__name__)
VALUES = "secrets/"
METADATA = "secret-meta/"
GET_PARAMETERS_BATCH = 10  # SSM's limit per GetParameters call
TIER = "Intelligent-Tiering"


class SsmSecretStore:
    def __init__(self, ssm: Any, path: str, key_id: str) -> None:
        """`path`: the stack's parameter path, ending in "/" (e.g. "/mycli/Mycli/")."""
        self._ssm = ssm
        self._path = path
        self._key_id = key_id

    def put(self, secret: Secret, value: str) -> Secret:
        written = self._ssm.put_parameter(
            Name=self._value_name(secret.name),
            Value=value,
            Type="SecureString",
            KeyId=self._key_id,
            Overwrite=True,
            Tier=TIER,
        )
        stored = Secret(
            name=secret.name,
            description=secret.description,
            images=secret.images,
            set_by=secret.set_by,
            set_at=secret.set_at,
            version=int(written["Version"]),
        )
        try:
            self._ssm.put_parameter(
                Name=self._meta_name(secret.name),
                Value=json.dumps(stored.to_dict()),
                Type="String",
                Overwrite=True,
                Tier=TIER,
            )
        except Exception:
            self._roll_back(stored)
            raise
        logger.info(
            "secret %s set (version %d) by %s",
            stored.name,
            stored.version,
            stored.set_by,
            extra={"secret": stored.name, "version": stored.version, "set_by": stored.set_by},
        )
        return stored

    def _roll_back(self, written: Secret) -> None:
        """Undo a value whose metadata could not be written: delete it if this write
        created it; a replaced one stays in history, unread (its metadata is the old one)."""
        if written.version != 1:
            logger.warning(
                "secret %s: version %d written without its metadata; runs keep the previous",
                written.name,
                written.version,
                extra={"secret": written.name, "version": written.version},
            )
            return
        try:
            self._ssm.delete_parameter(Name=self._value_name(written.name))
        except Exception:
            logger.exception(
                "secret %s: cannot delete the value written without its metadata",
                written.name,
                extra={"secret": written.name},
            )

    def list(self) -> list[Secret]:
        paginator = self._ssm.get_paginator("get_parameters_by_path")
        secrets = [
            _secret(parameter["Value"])
            for page in paginator.paginate(Path=self._path + METADATA.rstrip("/"))
            for parameter in page.get("Parameters", [])
        ]
        return sorted(secrets, key=lambda secret: secret.name)

    def describe(self, names: Sequence[str]) -> dict[str, Secret]:
        found = self._get({self._meta_name(name): name for name in names}, decrypt=False)
        return {name: _secret(text) for name, (text, _) in found.items()}

    def delete(self, name: str) -> Secret | None:
        existing = self.describe([name]).get(name)
        if existing is None:
            return None
        self._ssm.delete_parameters(Names=[self._meta_name(name), self._value_name(name)])
        logger.info("secret %s deleted", name, extra={"secret": name, "deleted": True})
        return existing

    def reveal(self, names: Sequence[str], execution_id: str) -> dict[str, str]:
        """The values of the versions the metadata names (a secret without metadata has
        none)."""
        described = self.describe(names)
        found = self._get(
            {self._value_name(name): name for name in described},
            decrypt=True,
            versions={
                self._value_name(name): secret.version
                for name, secret in described.items()
                if secret.version >= 1
            },
        )
        logger.info(
            "execution %s uses secrets %s",
            execution_id,
            ", ".join(f"{name} (version {version})" for name, (_, version) in found.items()),
            extra={
                "execution_id": execution_id,
                "secrets": {name: version for name, (_, version) in found.items()},
            },
        )
        return {name: value for name, (value, _) in found.items()}

    def _get(
        self, wanted: dict[str, str], *, decrypt: bool, versions: Mapping[str, int] | None = None
    ) -> dict[str, tuple[str, int]]:
        """Parameter name -> secret name, read in SSM's batches (`versions`: parameter name
        -> the version to read, else the latest): secret name -> (value, version) of each
        that exists."""
        pinned = versions or {}
        found: dict[str, tuple[str, int]] = {}
        for batch in _batches(list(wanted), GET_PARAMETERS_BATCH):
            selected = [f"{name}:{pinned[name]}" if name in pinned else name for name in batch]
            response = self._ssm.get_parameters(Names=selected, WithDecryption=decrypt)
            for parameter in response.get("Parameters", []):
                found[wanted[parameter["Name"]]] = (
                    parameter["Value"],
                    int(parameter.get("Version", 0)),
                )
        return found

    def _value_name(self, name: str) -> str:
        return f"{self._path}{VALUES}{name}"

    def _meta_name(self, name: str) -> str:
        return f"{self._path}{METADATA}{name}"


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _secret(text: str) -> Secret:
    data = json.loads(text)
    return Secret(
        name=data["name"],
        description=data.get("description", ""),
        images=tuple(data.get("images") or ()),
        set_by=data.get("set_by", ""),
        set_at=data.get("set_at", ""),
        version=int(data.get("version", 0)),
    )
