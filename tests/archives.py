"""Build gzip tarballs for tests, including hostile ones: bombs (by size, by entry count)
built by streaming, link chains (CVE-2025-4517 and friends), hard links, devices, FIFOs."""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

Member = tuple[tarfile.TarInfo, bytes | None]
PATH_MAX = 4096
MIB = 1024 * 1024


def member(name: str, data: bytes = b"x", mode: int = 0o644) -> Member:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    return info, data


def directory(name: str, mode: int = 0o755) -> Member:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = mode
    return info, None


def link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> Member:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def hard_link(name: str, target: str) -> Member:
    return link(name, target, tarfile.LNKTYPE)


def device(name: str, kind: bytes = tarfile.CHRTYPE) -> Member:
    info = tarfile.TarInfo(name)
    info.type = kind
    return info, None


def tarball(*members: Member) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def write(path: Path, *members: Member) -> Path:
    path.write_bytes(tarball(*members))
    return path


def bomb(path: Path, size: int, files: int = 1) -> Path:
    """A small gzip tarball of `files` files of `size` zero bytes each (1 GiB packs to about
    1 MB), built in no time: the tar stream as gzip members, the same compressed MiB of
    zeros repeated (gzip readers read concatenated members as one stream)."""
    zeros = gzip.compress(bytes(MIB), compresslevel=9)
    with path.open("wb") as out:
        for number in range(files):
            info = tarfile.TarInfo(f"zeros-{number}.bin")
            info.size = size
            out.write(gzip.compress(info.tobuf(format=tarfile.PAX_FORMAT)))
            whole, rest = divmod(size, MIB)
            for _ in range(whole):
                out.write(zeros)
            out.write(gzip.compress(bytes(rest + (-size % tarfile.BLOCKSIZE))))
        out.write(gzip.compress(bytes(2 * tarfile.BLOCKSIZE)))
    return path


def entry_bomb(path: Path, count: int) -> Path:
    """A gzip tarball of `count` empty files."""
    with (
        gzip.GzipFile(path, "wb", compresslevel=6) as packed,
        tarfile.open(fileobj=packed, mode="w|") as tar,
    ):
        for number in range(count):
            tar.addfile(tarfile.TarInfo(f"f{number}"), io.BytesIO())
    return path


def realpath_overflow(destination: Path, payload: str = "escaped.txt") -> list[Member]:
    """CVE-2025-4517: a chain of symlinks whose resolved path outgrows PATH_MAX, where
    os.path.realpath gives up and goes on lexically. `escape -> a/b/.../p/LLL/..` looks
    inside to tarfile's "data" filter (Python < 3.11.13) and to lexical checks, but leads to
    the destination's parent; then `escape/PAYLOAD` writes there. The chain is sized for an
    extraction into `destination` (its absolute path's length matters)."""
    steps = "abcdefghijklmnop"
    room = PATH_MAX - 1 - len(str(destination))
    component = "d" * min(247, room // len(steps) - 1)
    members: list[Member] = []
    path = ""
    for step in steps:
        members.append(directory(f"{path}{component}"))
        members.append(link(f"{path}{step}", component))
        path = f"{path}{component}/"
    long_link = "/".join(steps) + "/" + "l" * 254
    members.append(link(long_link, "/".join([".."] * len(steps))))
    members.append(link("escape", f"{long_link}/.."))
    members.append(member(f"escape/{payload}", b"written outside\n"))
    return members


def chains() -> dict[str, list[Member]]:
    """Link tricks that must never write (or point) outside: name -> members."""
    return {
        "dot-link then parent link through it": [
            link("a", "."),
            link("a/b", ".."),
            member("a/b/escaped.txt"),
        ],
        "link to parent then a member through it": [
            link("up", ".."),
            member("up/escaped.txt"),
        ],
        "dir link then a file through it": [
            directory("real"),
            link("alias", "real"),
            member("alias/through.txt"),
        ],
        "symlink then a hard link through it": [
            link("a", "."),
            member("victim.txt"),
            hard_link("a/escaped.txt", "victim.txt"),
        ],
        "symlink replaced by a dir, then a file in it": [
            link("swap", "."),
            directory("swap"),
            member("swap/escaped.txt"),
        ],
        "link chain resolving outside": [
            link("a", "."),
            directory("b"),
            link("b/c", "../a/.."),
        ],
    }


def iter_names(path: Path) -> Iterator[str]:
    with tarfile.open(path, mode="r|gz") as tar:
        for info in tar:
            yield info.name


def pax(name: str, headers: dict[str, str], data: bytes = b"x") -> bytes:
    """A gzip tarball of one member carrying these pax headers (a NUL in a name, a huge
    comment...)."""
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.pax_headers = headers
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def truncated(data: bytes) -> bytes:
    """A gzip stream cut in the middle."""
    return data[: len(data) // 2]
