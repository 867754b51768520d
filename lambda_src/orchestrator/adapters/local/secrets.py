"""Secrets on one machine: metadata in SQLite, values encrypted with Fernet (AES-128-CBC
and HMAC-SHA256, from `cryptography`) under a key file of the data directory (0600).

The ciphertext seals the name with the value, so a value moved to another row in the
database does not decrypt as that other secret. Nothing in the data directory holds a value
in plain text; whoever can read both the key file and the database can read the values,
which is what the data directory's 0700/0600 modes are for.

`cryptography` (~6 MB resident) is imported when a secret is first sealed or opened, not when
the server starts; the key file is still made and checked at start."""

from __future__ import annotations

import base64
import binascii
import json
import os
import sqlite3
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.adapters.local.database import Database
from orchestrator.adapters.local.private import FILE_MODE
from orchestrator.domain.errors import Conflict
from orchestrator.domain.models import Secret

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

KEY_FILE = "secrets.key"


def load_or_create_key(path: Path) -> bytes:
    """The Fernet key in `path`, made (0600, never replaced) when there is none."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return path.read_bytes().strip()
    key = base64.urlsafe_b64encode(os.urandom(32))  # what Fernet.generate_key() returns
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    return key


class LazyFernet:
    """The data directory's Fernet key, made and checked now; `cryptography` loaded on the
    first use of `fernet`."""

    def __init__(self, key_path: Path) -> None:
        self._key = load_or_create_key(key_path)
        try:  # the check Fernet() makes, without importing it
            valid = len(base64.urlsafe_b64decode(self._key)) == 32
        except (binascii.Error, ValueError):
            valid = False
        if not valid:
            raise ValueError(f"{key_path} does not hold a Fernet key (32 url-safe base64 bytes)")

    @cached_property
    def fernet(self) -> Fernet:
        from cryptography.fernet import Fernet

        return Fernet(self._key)


class FernetSecretStore:
    def __init__(self, db: Database, key_path: Path) -> None:
        self._db = db
        self._key = LazyFernet(key_path)

    @property
    def _fernet(self) -> Fernet:
        return self._key.fernet

    def put(self, secret: Secret, value: str) -> Secret:
        sealed = self._fernet.encrypt(json.dumps({"name": secret.name, "value": value}).encode())
        with self._db.immediate() as conn:
            row = conn.execute(
                "SELECT version FROM secrets WHERE name = ?", (secret.name,)
            ).fetchone()
            version = (int(row["version"]) if row else 0) + 1
            conn.execute(
                "INSERT OR REPLACE INTO secrets (name, description, images, set_by, set_at,"
                " version, ciphertext) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    secret.name,
                    secret.description,
                    json.dumps(list(secret.images)),
                    secret.set_by,
                    secret.set_at,
                    version,
                    sealed.decode("ascii"),
                ),
            )
        return Secret(
            name=secret.name,
            description=secret.description,
            images=secret.images,
            set_by=secret.set_by,
            set_at=secret.set_at,
            version=version,
        )

    def list(self) -> list[Secret]:
        rows = self._db.connection().execute("SELECT * FROM secrets ORDER BY name")
        return [_secret(row) for row in rows]

    def describe(self, names: Sequence[str]) -> dict[str, Secret]:
        return {name: _secret(row) for name, row in self._rows(names).items()}

    def delete(self, name: str) -> Secret | None:
        row = (
            self._db.connection()
            .execute("DELETE FROM secrets WHERE name = ? RETURNING *", (name,))
            .fetchone()
        )
        return _secret(row) if row else None

    def reveal(self, names: Sequence[str], execution_id: str) -> dict[str, str]:
        # The execution's record (its secret_names and git_secret) is the use log here.
        from cryptography.fernet import InvalidToken

        values = {}
        for name, row in self._rows(names).items():
            try:
                sealed = json.loads(self._fernet.decrypt(row["ciphertext"].encode("ascii")))
            except (InvalidToken, ValueError) as error:
                raise Conflict(
                    f"secret {name} cannot be decrypted with this data directory's key "
                    f"({KEY_FILE} was replaced?): set it again",
                    {"name": name},
                ) from error
            if sealed.get("name") != name:
                raise Conflict(f"secret {name} holds another secret's value: set it again")
            values[name] = str(sealed["value"])
        return values

    def _rows(self, names: Sequence[str]) -> dict[str, sqlite3.Row]:
        if not names:
            return {}
        marks = ", ".join("?" for _ in names)
        rows = self._db.connection().execute(
            f"SELECT * FROM secrets WHERE name IN ({marks})", tuple(names)
        )
        return {row["name"]: row for row in rows}


def _secret(row: sqlite3.Row) -> Secret:
    return Secret(
        name=row["name"],
        description=row["description"],
        images=tuple(json.loads(row["images"])),
        set_by=row["set_by"],
        set_at=row["set_at"],
        version=int(row["version"]),
    )
