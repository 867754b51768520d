"""SQLite image store (the `images` table)."""

from __future__ import annotations

import json
import sqlite3

from orchestrator.adapters.local.database import Database
from orchestrator.domain.errors import Conflict
from orchestrator.domain.models import Image

# The embedded host prepares nothing for an image (NoImagePlatform): there is no base to
# keep, so platform_base is not a column.
_FIELDS = tuple(name for name in Image.__dataclass_fields__ if name != "platform_base")


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

    def replace_platform(self, current: Image, fresh: Image) -> bool:
        cursor = self._db.connection().execute(
            "UPDATE images SET platform_ref = ? WHERE name = ? AND platform_ref IS ?",
            (fresh.platform_ref, current.name, current.platform_ref),
        )
        return cursor.rowcount > 0


def _image(row: sqlite3.Row) -> Image:
    data = {name: row[name] for name in _FIELDS}
    data["is_default"] = bool(row["is_default"])
    data["secrets"] = tuple(json.loads(row["secrets"]))
    return Image(**data)
