"""The local upload store's housekeeping, and how the CLI chooses what to pack."""

from __future__ import annotations

import io
import tarfile
from datetime import timedelta
from pathlib import Path

from fakes import FakeClock
from mycli.uploads import files_to_pack, pack
from orchestrator.adapters.local.database import Database
from orchestrator.adapters.local.uploads import LocalUploadStore


def test_archives_past_retention_and_unused_expired_slots_are_purged(tmp_path: Path) -> None:
    clock = FakeClock()
    store = LocalUploadStore(Database(tmp_path / "db.sqlite"), tmp_path / "uploads")
    old = store.open_slot("old", "a@x.io", clock.now() + timedelta(minutes=15), 100)
    token = old.url.split("token=")[1]
    store.receive("old", token, io.BytesIO(b"12345"), 5, clock.now())
    store.open_slot("unused", "a@x.io", clock.now() + timedelta(minutes=15), 100)
    clock.advance(8 * 24 * 3600)
    fresh = store.open_slot("fresh", "a@x.io", clock.now() + timedelta(minutes=15), 100)
    store.receive("fresh", fresh.url.split("token=")[1], io.BytesIO(b"123"), 3, clock.now())

    removed = store.purge(clock.now() - timedelta(days=7), clock.now())

    assert removed == 2
    assert store.find("a@x.io", "old") is None
    assert not (tmp_path / "uploads" / "old.tar.gz").exists()
    assert store.find("a@x.io", "fresh") is not None


def test_outside_git_everything_but_dot_git_is_packed_with_modes(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("not a repository")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "tool").write_text("#!/bin/sh\n")
    (tmp_path / "bin" / "tool").chmod(0o755)
    (tmp_path / "README").write_text("hi")

    assert files_to_pack(tmp_path) == ["README", "bin/tool"]
    archive = pack(tmp_path)
    with tarfile.open(archive.path) as tar:
        modes = {m.name: m.mode for m in tar.getmembers()}
    archive.path.unlink()
    assert modes["bin/tool"] & 0o100
    assert archive.files == 2
