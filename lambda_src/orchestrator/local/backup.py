"""`mycli local backup`: a consistent copy of a data directory, taken while its server runs.

The database is copied with SQLite's online backup API, one snapshot in a single read
transaction; then the files its records point at: the log (`.out`, then `.idx`) of every
execution and the archive of every completed upload in that snapshot, and the secrets key.
An execution finished in the snapshot had its log closed before its end was recorded, so its
copy is whole; one still running there is marked FAILED ("server restarted") by the first
`mycli local up` on the copy, like after a crash. The copy is a data directory: 0700, files
0600, made in a staging directory beside DEST and renamed into place when complete."""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from orchestrator.adapters.local.logfiles import index_path
from orchestrator.adapters.local.private import DIR_MODE, FILE_MODE, create_private, private_dir
from orchestrator.adapters.local.secrets import KEY_FILE
from orchestrator.domain.models import ExecutionStatus
from orchestrator.local.platform import DATABASE_FILE


class BackupRefused(Exception):
    """The source is no data directory, or DEST is taken; nothing was written."""


@dataclass(frozen=True)
class BackupSummary:
    executions: int
    unfinished: int
    logs: int
    uploads: int
    size_bytes: int
    secrets_key: bool


def back_up(data_dir: Path, dest: Path) -> BackupSummary:
    """Copy `data_dir` into `dest`, which must not exist or be an empty directory."""
    database = data_dir / DATABASE_FILE
    if not database.is_file():
        raise BackupRefused(f"no mycli data directory at {data_dir} (no {DATABASE_FILE})")
    _refuse_taken(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-", dir=dest.parent))
    try:
        summary = _copy(data_dir, staging)
        _refuse_taken(dest)
        os.replace(staging, dest)  # an empty directory is replaced, atomically
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return summary


def _refuse_taken(dest: Path) -> None:
    if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
        raise BackupRefused(f"{dest} exists and is not a directory")
    if dest.is_dir() and any(dest.iterdir()):
        raise BackupRefused(f"{dest} is not empty: back up into a new or empty directory")


def _copy(data_dir: Path, staging: Path) -> BackupSummary:
    staging.chmod(DIR_MODE)
    copied_db = staging / DATABASE_FILE
    create_private(copied_db)
    logs, uploads, unfinished, executions = _snapshot(data_dir / DATABASE_FILE, copied_db)
    log_count = 0
    for name in logs:
        out = data_dir / "logs" / Path(name).name
        # The bytes first, then the index: the index then covers every byte copied.
        if _copy_private(out, staging / "logs" / out.name):
            _copy_private(index_path(out), staging / "logs" / index_path(out).name)
            log_count += 1
    upload_count = sum(
        _copy_private(
            data_dir / "uploads" / f"{Path(upload_id).name}.tar.gz",
            staging / "uploads" / f"{Path(upload_id).name}.tar.gz",
        )
        for upload_id in uploads
    )
    secrets_key = _copy_private(data_dir / KEY_FILE, staging / KEY_FILE)
    size = sum(path.stat().st_size for path in staging.rglob("*") if path.is_file())
    return BackupSummary(executions, unfinished, log_count, upload_count, size, secrets_key)


def _snapshot(source: Path, target: Path) -> tuple[list[str], list[str], int, int]:
    """Back the database up in one step (one read transaction: the writer goes on), and
    return what the copy refers to: log names, completed uploads, unfinished and all
    executions."""
    reader = sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True, timeout=10)
    writer = sqlite3.connect(target)
    try:
        reader.backup(writer)
        rows = writer.execute("SELECT log_stream_name, status FROM executions").fetchall()
        uploads = writer.execute(
            "SELECT upload_id FROM uploads WHERE completed_at IS NOT NULL"
        ).fetchall()
    finally:
        writer.close()
        reader.close()
    unfinished = sum(1 for _, status in rows if not ExecutionStatus(status).is_terminal)
    logs = [name for name, _ in rows if name]
    return logs, [row[0] for row in uploads], unfinished, len(rows)


def _copy_private(source: Path, target: Path) -> bool:
    """Copy one file 0600 (its directory 0700); False when there is none (pruned, never
    written)."""
    try:
        with source.open("rb") as reader:
            private_dir(target.parent)
            descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            with os.fdopen(descriptor, "wb") as writer:
                shutil.copyfileobj(reader, writer, 1024 * 1024)
    except FileNotFoundError:
        return False
    return True
