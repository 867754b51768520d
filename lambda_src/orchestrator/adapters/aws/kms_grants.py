"""The runs' KMS grants on the env key (kms_env.py seals with them): made at launch, one per
run with sealed values, retired by the run agent once it has unsealed them, and revoked by
the server whatever happened to the agent: when the launch fails, when the run ends, and,
for what those missed, by the reaper's sweep.

A run's grant is named `mycli-<execution id>-<unix seconds it was made>` and constrained to
the encryption context `{"execution_id": <execution id>}`; a grant that is not both, as
this platform makes them, is never touched. Grant ids are not logged."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from orchestrator.adapters.aws.clients import error_code

NAME_PREFIX = "mycli-"
# KMS's answer for a grant that is no longer there (retired by the agent, revoked before).
GONE = frozenset({"NotFoundException", "InvalidGrantIdException"})
_STAMP = re.compile(r"-(\d{1,12})")
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Grant:
    grant_id: str
    token: str


def grant_name(execution_id: str, made_at: datetime) -> str:
    return f"{NAME_PREFIX}{execution_id}-{int(made_at.timestamp())}"


def run_grant_made_at(grant: dict[str, Any]) -> tuple[str, datetime] | None:
    """For a grant from ListGrants: (the execution it is for, when it was made) if this
    platform made it (its name and its constraint, above), else None. A grant named as
    before the time was put in its name (`mycli-<id>`) is dated by KMS's CreationDate."""
    context = (grant.get("Constraints") or {}).get("EncryptionContextEquals") or {}
    execution_id = context.get("execution_id")
    name = str(grant.get("Name") or "")
    if (
        set(context) != {"execution_id"}
        or not isinstance(execution_id, str)
        or grant.get("Operations") != ["Decrypt"]
    ):
        return None
    rest = name.removeprefix(f"{NAME_PREFIX}{execution_id}")
    if rest == name:
        return None
    stamp = _STAMP.fullmatch(rest)
    if stamp is not None:
        return execution_id, datetime.fromtimestamp(int(stamp.group(1)), UTC)
    created = grant.get("CreationDate")
    if rest == "" and isinstance(created, datetime):
        return execution_id, created
    return None


class RunGrants:
    """Makes, revokes and sweeps the runs' grants on one key."""

    def __init__(self, kms: Any, key_id: str) -> None:
        self._kms = kms
        self._key_id = key_id

    def create(
        self, execution_id: str, grantee: str, context: dict[str, str], made_at: datetime
    ) -> Grant:
        """A grant for `grantee` to Decrypt with exactly `context` (and to retire it)."""
        answer = self._kms.create_grant(
            KeyId=self._key_id,
            GranteePrincipal=grantee,
            RetiringPrincipal=grantee,
            Operations=["Decrypt"],
            Constraints={"EncryptionContextEquals": context},
            Name=grant_name(execution_id, made_at),
        )
        return Grant(grant_id=str(answer["GrantId"]), token=str(answer["GrantToken"]))

    def revoke(self, grant_id: str) -> None:
        """Revoke the grant; one already gone (retired by the agent) is fine. Raises the
        AWS error otherwise."""
        try:
            self._kms.revoke_grant(KeyId=self._key_id, GrantId=grant_id)
        except ClientError as error:
            if error_code(error) not in GONE:
                raise

    def revoke_quietly(self, execution_id: str, grant_id: str | None) -> bool:
        """`revoke`, for clean-up paths that must not fail: an error is logged (without the
        grant's id) and left to the sweep. False when it could not be revoked."""
        if grant_id is None:
            return True
        try:
            self.revoke(grant_id)
        except (ClientError, BotoCoreError) as error:
            logger.warning(
                "could not revoke a run's grant; the reaper's sweep will",
                extra={"execution_id": execution_id, "error": error_code(error) or str(error)},
            )
            return False
        return True

    def sweep(self, made_before: datetime) -> list[str]:
        """Revoke every run grant on the key made before `made_before`; the executions they
        were for. Grants this platform did not make are left alone."""
        swept: list[str] = []
        for page in self._kms.get_paginator("list_grants").paginate(KeyId=self._key_id):
            for grant in page.get("Grants", []):
                made = run_grant_made_at(grant)
                if made is None or made[1] >= made_before:
                    continue
                if self.revoke_quietly(made[0], str(grant["GrantId"])):
                    swept.append(made[0])
        return swept
