"""SQLite image store (the `images` table)."""

from __future__ import annotations

import json
import sqlite3

from orchestrator.adapters.local.database import Database
from orchestrator.domain.errors import Conflict
from orchestrator.domain.models import Image

_FIELDS = tuple(Image.__dataclass_fields__)


class SqliteImageStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, image: Image) -> None:
        row = {name: getattr(image, name) for name in _FIELDS}
        row["is_default"] = int(image.is_default)
        row["secrets"] = json.dumps(list(image.secrets))
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        try:
            self._db.connection().execute(
                f"INSERT INTO images ({columns}) VALUES ({marks})", tuple(row.values())
            )
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"image {image.name} already exists", {"name": image.name}) from exc

    def get(self, name: str) -> Image | None:
        row = (
            self._db.connection().execute("SELECT * FROM images WHERE name = ?", (name,)).fetchone()
        )
        return _image(row) if row else None

    def list_all(self) -> list[Image]:
        rows = self._db.connection().execute("SELECT * FROM images ORDER BY name")
        return [_image(row) for row in rows]

    def delete(self, name: str) -> bool:
        cursor = self._db.connection().execute("DELETE FROM images WHERE name = ?", (name,))
        return cursor.rowcount > 0

    def set_default(self, name: str) -> None:
        self._db.connection().execute(
            "UPDATE images SET is_default = (name = ?) WHERE is_default != (name = ?)",
            (name, name),
        )


def _image(row: sqlite3.Row) -> Image:
    data = {name: row[name] for name in _FIELDS}
    data["is_default"] = bool(row["is_default"])
    data["secrets"] = tuple(json.loads(row["secrets"]))
    return Image(**data)
