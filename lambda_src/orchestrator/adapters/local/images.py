"""SQLite image store (the `images` table), and the embedded host's image platform."""

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

    def update_pool(
        self, name: str, *, warm: int | None, warm_idle_seconds: int | None
    ) -> Image | None:
        # One statement, read to its end so that its write is over when this returns.
        rows = (
            self._db.connection()
            .execute(
                "UPDATE images SET warm = COALESCE(?, warm), "
                "warm_idle_seconds = COALESCE(?, warm_idle_seconds) WHERE name = ? RETURNING *",
                (warm, warm_idle_seconds, name),
            )
            .fetchall()
        )
        return _image(rows[0]) if rows else None


def _image(row: sqlite3.Row) -> Image:
    data = {name: row[name] for name in _FIELDS}
    data["is_default"] = bool(row["is_default"])
    data["secrets"] = tuple(json.loads(row["secrets"]))
    return Image(**data)


class NoImagePlatform:
    """For hosts where an image needs nothing prepared (the embedded host runs commands on
    itself and records the image's URI only)."""

    def register(self, image: Image) -> Image:
        return image

    def is_current(self, image: Image) -> bool:
        return True

    def unregister(self, image: Image) -> None:
        return None

    def warnings(self, image: Image) -> list[str]:
        return local_image_warnings(image)

    def pool_warnings(self, image: Image) -> list[str]:
        return _warm_warning(image)


def local_image_warnings(image: Image) -> list[str]:
    """On the embedded host runs run on the host itself: the URI is only recorded, and the
    size becomes the limits of the runs on the image (adapters/local/limits.py)."""
    which = "every run without --image" if image.is_default else f"runs with --image {image.name}"
    return [
        f"this server runs commands on its own host: the image URI {image.uri} is recorded "
        "but never pulled or used",
        f"{which} will be limited to {image.memory} MiB of memory (the run's cgroup, else "
        f"ulimit -v) and {image.cpu} CPU units ({image.cpu / 1024:g} CPU, where the cgroup's "
        "cpu controller is available)",
        *_warm_warning(image),
    ]


def _warm_warning(image: Image) -> list[str]:
    if not image.warm:
        return []
    return [
        f"warm pools apply on AWS only: warm {image.warm} is recorded, but this server "
        "starts every run at once and keeps no task warm"
    ]
