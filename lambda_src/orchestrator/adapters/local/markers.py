"""Idempotency-Keys' markers in SQLite (table idempotency_markers): claimed and released in
write transactions, and checked by the execution store's create in its own."""

from __future__ import annotations

import sqlite3

from orchestrator.adapters.local.database import Database
from orchestrator.domain.idempotency import IdempotencyMarker


class SqliteMarkers:
    def __init__(self, db: Database) -> None:
        self._db = db

    def claim_marker(
        self, marker: IdempotencyMarker, stale_before: str
    ) -> IdempotencyMarker | None:
        with self._db.immediate() as conn:
            # Markers past their lifetime go first (the store's TTL).
            conn.execute(
                "DELETE FROM idempotency_markers WHERE expires_at < ?", (marker.claimed_at,)
            )
            holder = held_marker(conn, marker.execution_id)
            if holder is not None and holder.claimed_at >= stale_before:
                return holder
            conn.execute(
                "INSERT OR REPLACE INTO idempotency_markers (execution_id, fingerprint, owner,"
                " claimed_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                (
                    marker.execution_id,
                    marker.fingerprint,
                    marker.owner,
                    marker.claimed_at,
                    marker.expires_at,
                ),
            )
        return None

    def release_marker(self, execution_id: str, owner: str) -> None:
        self._db.connection().execute(
            "DELETE FROM idempotency_markers WHERE execution_id = ? AND owner = ?",
            (execution_id, owner),
        )


def held_marker(conn: sqlite3.Connection, execution_id: str) -> IdempotencyMarker | None:
    row = conn.execute(
        "SELECT execution_id, fingerprint, owner, claimed_at, expires_at"
        " FROM idempotency_markers WHERE execution_id = ?",
        (execution_id,),
    ).fetchone()
    return IdempotencyMarker(*row) if row else None
