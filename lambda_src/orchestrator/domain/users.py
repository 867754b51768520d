"""Users and API keys: authentication, the first admin, and what admins do with users."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from orchestrator.domain.errors import Conflict, Forbidden, NotFound, Unauthorized
from orchestrator.domain.models import (
    ApiKeyRecord,
    Caller,
    Role,
    UserSummary,
    parse_iso,
    utc_iso,
)
from orchestrator.ports import ApiKeyStore, Clock

KEY_PREFIX = "mycli_"
# Recording every request's use would make each read a write; a minute's precision is enough.
LAST_USED_PRECISION = timedelta(seconds=60)


def generate_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedKey:
    """A freshly created key: the plaintext exists only here, to be shown once."""

    api_key: str
    record: ApiKeyRecord


class UserService:
    def __init__(self, keys: ApiKeyStore, clock: Clock) -> None:
        self._keys = keys
        self._clock = clock

    def authenticate(self, api_key: str | None) -> Caller:
        """The caller behind `api_key`; Unauthorized when missing, unknown or revoked."""
        if not api_key:
            raise Unauthorized("missing API key: send it in the X-API-Key header")
        record = self._keys.get(hash_api_key(api_key))
        if record is None or record.revoked:
            raise Unauthorized("invalid or revoked API key")
        now = self._clock.now()
        if record.last_used is None or parse_iso(record.last_used) <= now - LAST_USED_PRECISION:
            self._keys.touch(record.api_key_hash, utc_iso(now))
        return Caller(email=record.user_email, role=record.role)

    def create_user(self, caller: Caller, email: str, role: Role) -> IssuedKey:
        _require_admin(caller)
        if any(not key.revoked for key in self._keys.list_by_email(email)):
            raise Conflict(f"user {email} already has an active key", {"email": email})
        return self.issue_key(email, role)

    def issue_key(self, email: str, role: Role) -> IssuedKey:
        """Create a key without an acting user (first admin, `mycli init`)."""
        api_key = generate_api_key()
        record = ApiKeyRecord(
            api_key_hash=hash_api_key(api_key),
            user_email=email,
            role=role,
            created_at=utc_iso(self._clock.now()),
        )
        self._keys.put(record)
        return IssuedKey(api_key=api_key, record=record)

    def has_active_admin(self) -> bool:
        return any(k.role is Role.ADMIN and not k.revoked for k in self._keys.list_all())

    def is_active_admin_key(self, api_key: str) -> bool:
        record = self._keys.get(hash_api_key(api_key))
        return record is not None and not record.revoked and record.role is Role.ADMIN

    def list_users(self, caller: Caller) -> list[UserSummary]:
        _require_admin(caller)
        by_email: dict[str, list[ApiKeyRecord]] = {}
        for record in self._keys.list_all():
            by_email.setdefault(record.user_email, []).append(record)
        return [_summarize(email, records) for email, records in sorted(by_email.items())]

    def revoke_user(self, caller: Caller, email: str) -> UserSummary:
        """Revoke every key of `email`; they are refused from the next request on."""
        _require_admin(caller)
        if email == caller.email:
            raise Conflict("you cannot revoke your own keys; ask another admin")
        records = self._keys.list_by_email(email)
        if not records:
            raise NotFound(f"user {email} not found")
        now = utc_iso(self._clock.now())
        for record in records:
            if not record.revoked:
                self._keys.revoke(record.api_key_hash, now)
        return _summarize(email, self._keys.list_by_email(email))


def _require_admin(caller: Caller) -> None:
    if not caller.is_admin:
        raise Forbidden("this needs the admin role")


def _summarize(email: str, records: list[ApiKeyRecord]) -> UserSummary:
    active = [r for r in records if not r.revoked]
    roles = {r.role for r in active or records}
    used = [r.last_used for r in records if r.last_used]
    return UserSummary(
        email=email,
        role=Role.ADMIN if Role.ADMIN in roles else Role.USER,
        created_at=min(r.created_at for r in records),
        revoked=not active,
        last_used=max(used) if used else None,
        active_keys=len(active),
    )
