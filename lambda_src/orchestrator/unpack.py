"""Safe unpacking of an uploaded gzip tarball (stdlib only).

Used by the local runner, and run as a script by the ECS task's unpack container
(`python3 unpack.py ARCHIVE DEST`), so both deployments refuse the same archives: absolute
paths, `..`, links that point outside the directory, device and other special files, and
corrupt archives. Script exit codes name the reason (see REFUSALS)."""

from __future__ import annotations

import sys
import tarfile
import zlib
from pathlib import Path, PurePosixPath


class UnsafeArchive(Exception):
    """The archive was refused; `kind` is a key of REFUSALS."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{REFUSALS[kind][1]}: {detail}")
        self.kind = kind


# kind -> (script exit code, reason)
REFUSALS = {
    "corrupt": (65, "corrupt archive"),
    "absolute": (66, "absolute path in archive"),
    "escape": (67, "path leaves the directory"),
    "link": (68, "link points outside the directory"),
    "special": (69, "device or special file in archive"),
}
REASON_BY_EXIT_CODE = {code: reason for code, reason in REFUSALS.values()}


def check_member(member: tarfile.TarInfo) -> None:
    name = PurePosixPath(member.name)
    if name.is_absolute():
        raise UnsafeArchive("absolute", member.name)
    if ".." in name.parts:
        raise UnsafeArchive("escape", member.name)
    if member.issym() or member.islnk():
        target = PurePosixPath(member.linkname)
        joined = target if member.islnk() else name.parent / target
        if target.is_absolute() or _escapes(joined):
            raise UnsafeArchive("link", f"{member.name} -> {member.linkname}")
    elif not (member.isfile() or member.isdir()):
        raise UnsafeArchive("special", member.name)


def safe_extract(archive: Path, destination: Path) -> int:
    """Check every member, then extract (with tarfile's "data" filter as a second guard).
    Returns the number of files; raises UnsafeArchive and extracts nothing if refused."""
    destination.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            members = tar.getmembers()
            for member in members:
                check_member(member)
            tar.extractall(destination, members=members, filter="data")
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        if isinstance(error, tarfile.FilterError):
            raise UnsafeArchive("escape", str(error)) from error
        raise UnsafeArchive("corrupt", str(error) or type(error).__name__) from error
    return sum(1 for member in members if member.isfile())


def _escapes(path: PurePosixPath) -> bool:
    depth = 0
    for part in path.parts:
        depth += -1 if part == ".." else 0 if part == "." else 1
        if depth < 0:
            return True
    return False


def main(argv: list[str]) -> int:
    archive, destination = Path(argv[1]), Path(argv[2])
    if not archive.exists():
        return 0  # this execution has no upload
    try:
        count = safe_extract(archive, destination)
    except UnsafeArchive as refused:
        print(f"mycli: upload refused: {refused}", file=sys.stderr)
        return REFUSALS[refused.kind][0]
    print(f"mycli: unpacked {count} files into {destination}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
