"""Safe unpacking: what both deployments refuse, and what survives (the executable bit)."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from archives import device, link, member, write
from orchestrator import unpack
from orchestrator.unpack import REFUSALS, UnsafeArchive, safe_extract


def test_files_and_their_executable_bit_arrive(tmp_path: Path) -> None:
    archive = write(
        tmp_path / "a.tgz",
        member("run.sh", b"#!/bin/sh\necho hi\n", 0o755),
        member("data/notes.txt", b"notes"),
        link("data/alias", "notes.txt"),
    )

    count = safe_extract(archive, tmp_path / "out")

    assert count == 2
    assert (tmp_path / "out" / "run.sh").stat().st_mode & 0o100
    assert (tmp_path / "out" / "data" / "alias").read_text() == "notes"


@pytest.mark.parametrize(
    ("members", "kind"),
    [
        ((member("/etc/cron.d/evil"),), "absolute"),
        ((member("../outside"),), "escape"),
        ((member("a/../../outside"),), "escape"),
        ((link("up", "../../etc/passwd"),), "link"),
        ((link("abs", "/etc/passwd"),), "link"),
        ((member("a"), link("hard", "../a", tarfile.LNKTYPE)), "link"),
        ((device("console"),), "special"),
    ],
)
def test_hostile_archives_are_refused_and_nothing_is_extracted(
    tmp_path: Path, members: tuple, kind: str
) -> None:
    archive = write(tmp_path / "bad.tgz", member("innocent.txt"), *members)

    with pytest.raises(UnsafeArchive) as refused:
        safe_extract(archive, tmp_path / "out")

    assert refused.value.kind == kind
    assert not (tmp_path / "out" / "innocent.txt").exists()
    assert not (tmp_path / "outside").exists()


def test_a_corrupt_archive_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "corrupt.tgz"
    archive.write_bytes(b"\x1f\x8b this is not really gzip")
    with pytest.raises(UnsafeArchive) as refused:
        safe_extract(archive, tmp_path / "out")
    assert refused.value.kind == "corrupt"


@pytest.mark.parametrize(
    ("kind", "members"), [("escape", (member("../x"),)), ("special", (device("d"),))]
)
def test_as_a_script_the_exit_code_names_the_refusal(
    tmp_path: Path, kind: str, members: tuple
) -> None:
    archive = write(tmp_path / "bad.tgz", *members)
    result = subprocess.run(
        [sys.executable, unpack.__file__, str(archive), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == REFUSALS[kind][0]
    assert result.stderr.startswith("mycli: upload refused: ")


def test_as_a_script_no_archive_means_no_upload(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, unpack.__file__, str(tmp_path / "missing.tgz"), str(tmp_path / "out")],
        check=False,
    )
    assert result.returncode == 0
