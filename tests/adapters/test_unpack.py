"""Safe, bounded unpacking (orchestrator/unpack.py), the first step of every run with an
upload on both deployments: what arrives (modes, links, hard links, duplicates), what is
refused (escapes, link chains, devices, bombs, corrupt streams) and that a refusal leaves
nothing behind, neither in the destination nor outside it."""

from __future__ import annotations

import gzip
import os
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import pytest

from archives import (
    bomb,
    chains,
    device,
    directory,
    entry_bomb,
    hard_link,
    link,
    member,
    pax,
    realpath_overflow,
    tarball,
    truncated,
    write,
)
from orchestrator import unpack
from orchestrator.unpack import (
    DEFAULT_MAX_ENTRIES,
    DEFAULT_MAX_UNPACKED_MIB,
    MAX_DEPTH,
    MAX_NAME_BYTES,
    MIB,
    REFUSALS,
    Limits,
    UnsafeArchive,
    remove_tree,
    safe_extract,
)


def everything_under(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*")}


def refused(archive: Path, destination: Path, limits: Limits | None = None) -> UnsafeArchive:
    with pytest.raises(UnsafeArchive) as caught:
        safe_extract(archive, destination, limits)
    assert list(destination.iterdir()) == [], "a refusal leaves nothing behind"
    return caught.value


def test_defaults_are_one_gib_and_100000_entries() -> None:
    assert (DEFAULT_MAX_UNPACKED_MIB, DEFAULT_MAX_ENTRIES) == (512, 100_000)
    assert Limits().max_bytes == 512 * MIB


def test_the_issues_bomb_of_1_mb_to_1_gib_is_refused_at_the_defaults(tmp_path: Path) -> None:
    archive = bomb(tmp_path / "bomb.tgz", 1024 * MIB)
    assert archive.stat().st_size < 2 * MIB

    error = refused(archive, tmp_path / "out")

    assert str(error) == "unpacks to more than 512 MiB (the unpacked-size limit)"


def test_files_links_and_their_modes_arrive(tmp_path: Path) -> None:
    archive = write(
        tmp_path / "a.tgz",
        member("run.sh", b"#!/bin/sh\necho hi\n", 0o755),
        member("data/notes.txt", b"notes"),
        link("data/alias", "notes.txt"),
        link("data/deep/up", "../notes.txt"),
        member("setuid", b"s", 0o4755),
        directory("locked", 0o000),
        member("locked/inner.txt", b"inner"),
        hard_link("data/same.txt", "data/notes.txt"),
    )

    count = safe_extract(archive, tmp_path / "out")

    out = tmp_path / "out"
    assert count == 5
    assert (out / "run.sh").stat().st_mode & 0o777 == 0o755
    assert (out / "data" / "alias").read_text() == "notes"
    assert (out / "data" / "deep" / "up").read_text() == "notes"
    assert stat.S_IMODE((out / "setuid").stat().st_mode) == 0o755, "setuid is dropped"
    assert stat.S_IMODE((out / "locked").stat().st_mode) == 0o700, "the owner keeps access"
    assert (out / "locked" / "inner.txt").read_text() == "inner"
    assert (out / "data" / "same.txt").stat().st_ino == (out / "data" / "notes.txt").stat().st_ino


def test_a_later_file_or_link_replaces_an_earlier_one_without_following_it(
    tmp_path: Path,
) -> None:
    archive = write(
        tmp_path / "dup.tgz",
        member("twice.txt", b"first"),
        member("twice.txt", b"second"),
        member("target.txt", b"target"),
        link("was-link", "target.txt"),
        member("was-link", b"replaced"),
    )

    safe_extract(archive, tmp_path / "out")

    out = tmp_path / "out"
    assert (out / "twice.txt").read_text() == "second"
    assert not (out / "was-link").is_symlink()
    assert (out / "was-link").read_text() == "replaced"
    assert (out / "target.txt").read_text() == "target", "never written through the link"


HOSTILE = {
    "absolute name": ([member("/etc/cron.d/evil")], "absolute"),
    "dot-dot": ([member("../outside")], "escape"),
    "dot-dot inside": ([member("a/../../outside")], "escape"),
    "empty name": ([member("")], "name"),
    "link up and out": ([link("up", "../../etc/passwd")], "link"),
    "absolute link": ([link("abs", "/etc/passwd")], "link"),
    "empty link target": ([link("empty", "")], "link"),
    "link to the parent": ([link("up", "..")], "link"),
    "hard link outside": ([member("a"), hard_link("hard", "../a")], "hard_link"),
    "absolute hard link": ([hard_link("hard", "/etc/passwd")], "hard_link"),
    "hard link to a symlink": (
        [member("t"), link("s", "t"), hard_link("h", "s")],
        "hard_link",
    ),
    "hard link to a directory": ([directory("d"), hard_link("h", "d")], "hard_link"),
    "hard link to a later member": ([hard_link("h", "later"), member("later")], "hard_link"),
    "hard link through a link": (
        [directory("real"), member("real/v"), link("alias", "real"), hard_link("h", "alias/v")],
        "hard_link",
    ),
    "character device": ([device("console")], "special"),
    "block device": ([device("disk", tarfile.BLKTYPE)], "special"),
    "fifo": ([device("pipe", tarfile.FIFOTYPE)], "special"),
    "file where a directory is": ([directory("d"), member("d")], "conflict"),
    "directory where a file is": ([member("f"), directory("f")], "conflict"),
    "a file under a file": ([member("f"), member("f/inner")], "conflict"),
}
CHAIN_KINDS = {
    "dot-link then parent link through it": "through_link",
    "link to parent then a member through it": "link",
    "dir link then a file through it": "through_link",
    "symlink then a hard link through it": "through_link",
    "symlink replaced by a dir, then a file in it": "through_link",
    "link chain resolving outside": "link",
}
HOSTILE.update({name: (members, CHAIN_KINDS[name]) for name, members in chains().items()})


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_archives_are_refused_and_leave_nothing(tmp_path: Path, case: str) -> None:
    members, kind = HOSTILE[case]
    archive = write(tmp_path / "bad.tgz", member("innocent.txt"), *members)
    destination = tmp_path / "work" / "run"

    assert refused(archive, destination).kind == kind
    assert everything_under(tmp_path / "work") == {"run"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.tgz", "work"]


def test_a_realpath_overflow_chain_cve_2025_4517_writes_nothing_outside(tmp_path: Path) -> None:
    destination = tmp_path / "data" / "work" / "e1"
    archive = write(tmp_path / "cve.tgz", member("ok.txt"), *realpath_overflow(destination))

    assert refused(archive, destination).kind == "through_link"
    assert everything_under(tmp_path / "data") == {"work", "work/e1"}


def test_a_nul_in_a_pax_name_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "nul.tgz"
    archive.write_bytes(pax("ok", {"path": "a\0b"}))
    assert refused(archive, tmp_path / "out").kind == "name"


def test_a_bomb_is_refused_at_the_limit_without_unpacking_it(tmp_path: Path) -> None:
    archive = bomb(tmp_path / "bomb.tgz", 64 * MIB)
    assert archive.stat().st_size < MIB

    started = time.monotonic()
    error = refused(archive, tmp_path / "out", Limits(max_unpacked_mib=2))

    assert time.monotonic() - started < 2
    assert error.kind == "too_big"
    assert str(error) == "unpacks to more than 2 MiB (the unpacked-size limit)"


def test_the_size_limit_adds_up_every_file_and_is_inclusive(tmp_path: Path) -> None:
    at_limit = bomb(tmp_path / "two.tgz", MIB, files=2)
    over = bomb(tmp_path / "three.tgz", MIB, files=3)

    assert safe_extract(at_limit, tmp_path / "ok", Limits(max_unpacked_mib=2)) == 2
    assert refused(over, tmp_path / "no", Limits(max_unpacked_mib=2)).kind == "too_big"


def test_an_entry_bomb_is_refused_past_the_limit(tmp_path: Path) -> None:
    archive = entry_bomb(tmp_path / "many.tgz", 101)

    assert safe_extract(archive, tmp_path / "ok", Limits(max_entries=101)) == 101
    error = refused(archive, tmp_path / "no", Limits(max_entries=100))
    assert (error.kind, str(error)) == ("too_many", "has more than 100 entries (the entry limit)")


def test_a_huge_pax_header_is_refused_before_it_is_read_whole(tmp_path: Path) -> None:
    archive = tmp_path / "pax.tgz"
    archive.write_bytes(pax("ok", {"comment": "x" * (3 * MIB)}))
    assert refused(archive, tmp_path / "out").kind == "corrupt"


@pytest.mark.parametrize("damage", ["truncated", "flipped", "not gzip", "bad crc"])
def test_a_corrupt_stream_is_refused_and_nothing_unpacked_stays(
    tmp_path: Path, damage: str
) -> None:
    good = tarball(*(member(f"f{n}.txt", os.urandom(64 * 1024)) for n in range(8)))
    middle = len(good) // 2
    data = {
        "truncated": truncated(good),
        "flipped": good[:middle] + bytes([good[middle] ^ 0xFF]) + good[middle + 1 :],
        "not gzip": b"\x1f\x8b this is not really gzip",
        "bad crc": good[:-8] + bytes(4) + good[-4:],
    }[damage]
    archive = tmp_path / "corrupt.tgz"
    archive.write_bytes(data)

    assert refused(archive, tmp_path / "out").kind == "corrupt"


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    """As the ECS unpack container runs it: `python3 -I -c SOURCE ARCHIVE DEST [limits]`."""
    source = Path(unpack.__file__).read_text()
    return subprocess.run(
        [sys.executable, "-I", "-c", source, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("kind", "members"),
    [
        ("escape", (member("../x"),)),
        ("special", (device("d"),)),
        ("through_link", chains()["dir link then a file through it"]),
        ("hard_link", (hard_link("h", "/etc/passwd"),)),
    ],
)
def test_as_a_script_the_exit_code_names_the_refusal(
    tmp_path: Path, kind: str, members: tuple
) -> None:
    archive = write(tmp_path / "bad.tgz", *members)
    result = run_script(str(archive), str(tmp_path / "out"))
    assert result.returncode == REFUSALS[kind][0]
    assert result.stderr.startswith("mycli: upload refused: ")


def test_as_a_script_the_limits_are_options(tmp_path: Path) -> None:
    archive = bomb(tmp_path / "bomb.tgz", 3 * MIB)
    many = entry_bomb(tmp_path / "many.tgz", 11)
    out = str(tmp_path / "out")

    too_big = run_script(str(archive), out, *Limits(max_unpacked_mib=2).arguments())
    too_many = run_script(str(many), out, "--max-entries", "10")
    fine = run_script(str(archive), out, "--max-unpacked-mib", "3")

    assert (too_big.returncode, too_big.stderr) == (
        REFUSALS["too_big"][0],
        "mycli: upload refused: unpacks to more than 2 MiB (the unpacked-size limit)\n",
    )
    assert too_many.returncode == REFUSALS["too_many"][0]
    assert fine.returncode == 0, fine.stderr


def test_as_a_script_no_archive_means_no_upload(tmp_path: Path) -> None:
    result = run_script(str(tmp_path / "missing.tgz"), str(tmp_path / "out"))
    assert result.returncode == 0


def test_every_exit_code_is_distinct_and_clear_of_shell_and_python_codes() -> None:
    codes = [code for code, _ in REFUSALS.values()]
    assert len(set(codes)) == len(codes)
    assert all(64 < code < 126 for code in codes)


def test_a_deep_member_is_refused_past_the_depth_limit(tmp_path: Path) -> None:
    deepest = "d/" * (MAX_DEPTH - 1) + "f"
    archive = write(tmp_path / "ok.tgz", member(deepest))
    deep = write(tmp_path / "deep.tgz", member("d/" * 1200 + "f"))

    assert safe_extract(archive, tmp_path / "ok") == 1
    error = refused(deep, tmp_path / "no")
    assert (error.kind, str(error).split(":")[0]) == (
        "too_deep",
        f"path deeper than {MAX_DEPTH} components (the depth limit)",
    )


def test_every_directory_made_counts_as_an_entry(tmp_path: Path) -> None:
    # Given the red team's archive: 30 members, each implying 100 directories
    deep = [member(f"p{j}/" + "d/" * 99 + "f") for j in range(30)]
    archive = write(tmp_path / "deep.tgz", *deep)

    # Then its 3,030 entries (3,000 of them implied directories) are over a limit of 500
    error = refused(archive, tmp_path / "no", Limits(max_entries=500))
    assert error.kind == "too_many"
    assert safe_extract(archive, tmp_path / "ok", Limits(max_entries=3030)) == 30
    assert refused(archive, tmp_path / "no2", Limits(max_entries=3029)).kind == "too_many"


def test_an_explicit_directory_counts_once(tmp_path: Path) -> None:
    archive = write(tmp_path / "a.tgz", directory("a"), member("a/f"), directory("a/b"))
    assert safe_extract(archive, tmp_path / "ok", Limits(max_entries=3)) == 1


def test_a_name_longer_than_the_name_limit_is_refused(tmp_path: Path) -> None:
    longest = "/".join(["n" * 200] * 20) + "/" + "m" * 76
    archive = write(tmp_path / "ok.tgz", member(longest))
    too_long = write(tmp_path / "long.tgz", member("/".join(["n" * 200] * 21)))

    assert len(longest.encode()) == MAX_NAME_BYTES
    assert safe_extract(archive, tmp_path / "ok") == 1
    assert refused(too_long, tmp_path / "no").kind == "too_long"


def test_chained_long_name_headers_are_corrupt_not_a_crash(tmp_path: Path) -> None:
    # 600 GNU long-name headers in a row make tarfile's parser recurse past Python's limit
    blocks = bytearray()
    for _ in range(600):
        info = tarfile.TarInfo("././@LongLink")
        info.type = tarfile.GNUTYPE_LONGNAME
        name = b"n" * 100 + b"\0"
        info.size = len(name)
        blocks += info.tobuf(format=tarfile.USTAR_FORMAT)
        blocks += name + bytes(-len(name) % tarfile.BLOCKSIZE)
    blocks += tarfile.TarInfo("f").tobuf(format=tarfile.USTAR_FORMAT) + bytes(1024)
    archive = tmp_path / "chained.tgz"
    archive.write_bytes(gzip.compress(bytes(blocks)))

    assert refused(archive, tmp_path / "out").kind == "corrupt"
    result = run_script(str(archive), str(tmp_path / "script"))
    assert result.returncode == REFUSALS["corrupt"][0], result.stderr


def test_the_tree_remover_takes_a_3000_deep_tree_without_following_links(tmp_path: Path) -> None:
    # Given a tree 3000 directories deep, a 000-mode and a read-only directory in it, and
    # links to a directory and a file outside
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    tree = tmp_path / "tree"
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    os.mkdir("tree", dir_fd=fd)
    for depth in range(3000):
        child = os.open("tree" if depth == 0 else "d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = child
        os.mkdir("d", dir_fd=fd)
        if depth == 1500:
            os.symlink(str(outside), "to-outside", dir_fd=fd)
            os.symlink(str(outside / "keep.txt"), "file-outside", dir_fd=fd)
            os.mkdir("locked", dir_fd=fd)
            os.mkdir("locked/inner", dir_fd=fd)
            os.chmod("locked/inner", 0o500, dir_fd=fd)
            os.chmod("locked", 0o000, dir_fd=fd)
    os.close(fd)

    # When it is removed
    remove_tree(tree)

    # Then it is gone and what the links pointed to is untouched
    assert not tree.exists()
    assert (outside / "keep.txt").read_text() == "keep"


def test_the_tree_remover_removes_a_file_or_a_link_and_ignores_what_is_missing(
    tmp_path: Path,
) -> None:
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "x").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "target")
    (tmp_path / "file").write_text("f")

    for name in ("link", "file", "missing"):
        remove_tree(tmp_path / name)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["target"]
    assert (tmp_path / "target" / "x").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user")
def test_the_tree_remover_lifts_000_and_read_only_modes_as_their_owner() -> None:
    # Given a tree owned by an ordinary user (root reads any mode): 000 and 0500 in it
    shared = Path(tempfile.mkdtemp(prefix="remover-"))  # pytest's tmp_path is root's alone
    shared.chmod(0o777)
    tree = shared / "tree"
    child = os.fork()
    if child == 0:  # as nobody: build it, then remove it
        code = 1
        try:
            os.setgid(65534)
            os.setuid(65534)
            (tree / "a" / "b").mkdir(parents=True)
            (tree / "a" / "b" / "f").write_text("x")
            (tree / "a" / "c").mkdir()
            (tree / "a" / "c" / "g").write_text("y")
            for path, mode in ((tree / "a" / "c", 0o500), (tree / "a" / "b", 0), (tree / "a", 0)):
                path.chmod(mode)
            tree.chmod(0o500)
            remove_tree(tree)
            code = 0
        finally:
            os._exit(code)

    # Then it removed all of it
    _, status = os.waitpid(child, 0)
    exists = tree.exists()
    remove_tree(shared)
    assert os.waitstatus_to_exitcode(status) == 0
    assert not exists
