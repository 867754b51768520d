"""Safe, bounded unpacking of an uploaded gzip tarball (stdlib only, whatever the Python).

Run as a script, the first step of a run on both deployments: by the local runner
(`python -I unpack.py ARCHIVE DEST [limits]`) and by the ECS task's unpack container
(`python3 -I -c SOURCE ARCHIVE DEST [limits]`), so both refuse the same archives. Script
exit codes name the reason (see REFUSALS); the last stderr line says it in words.

How: the archive is read as a stream (never `tarfile.extract*`), and every member is made
relative to the destination without following a link. Each directory component is opened
with O_NOFOLLOW | O_DIRECTORY under its parent's descriptor (made when missing), files are
created with O_CREAT | O_EXCL | O_NOFOLLOW, so no member ever goes through a link, whatever
links the archive made before it (CVE-2025-4517-style chains included).

- Names: absolute, with `..`, empty or with NUL are refused; `.` and empty components
  are dropped. A name may take MAX_NAME_BYTES (4096, PATH_MAX: what the run's own tools
  can still open by path) and MAX_DEPTH components (128: far past real source trees, and
  it bounds the work per member; deeper trees are what breaks recursive tools).
- Symbolic links: made when the target is relative, all its `..` lead and stay within the
  link's own directory depth (`../lib/x` at `a/b/link`; not `../a/..`). Since the link's
  directory is a real one and every link obeys this, following any chain of them from
  inside stays inside. They are never followed while unpacking.
- Hard links: made (linkat, not following links) only to a regular file this archive
  created earlier; to anything else they are refused.
- Devices, FIFOs, sockets, sparse and unknown member types are refused.
- Modes: the permission bits are kept; setuid, setgid and sticky are dropped; the owner
  always keeps read and write (and search, on directories) so the run can clean up. With
  `--readable-by-all` (the run agent: its command may run as another user) everyone also
  gets read (and search, on directories; execute, on files the owner may execute).
- The same name twice: a later file or link replaces an earlier file or link (the old
  name is unlinked, never followed); a directory merges with an existing one; a file or
  link where a directory is, or a directory where a file or link is, is refused.
- Limits, counted while streaming: the bytes of file data (checked against each member's
  size before writing it, so nothing past the limit is written) and the entries: every
  member, and every directory a member's name implies that is made for it. Directories,
  links and empty files cost no bytes: the entry limit bounds them (about a block each).
  A member's headers (pax, long names) may take at most HEADER_LIMIT bytes.
- Refused: whatever was unpacked is removed (without following links), by remove_tree's
  loop (no recursion, so no depth breaks it; the local runner cleans up with it too)."""

from __future__ import annotations

import argparse
import contextlib
import errno
import gzip
import os
import stat
import sys
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024
DEFAULT_MAX_UNPACKED_MIB = 512  # ten times the default packed limit (50 MB)
DEFAULT_MAX_ENTRIES = 100_000
CHUNK = 256 * 1024
HEADER_LIMIT = MIB  # a member's pax and long-name headers, and the archive's trailing bytes
DETAIL_CHARS = 200
MAX_NAME_BYTES = 4096
MAX_DEPTH = 128
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC

# kind -> (script exit code, reason)
REFUSALS = {
    "corrupt": (65, "corrupt archive"),
    "absolute": (66, "absolute path in archive"),
    "escape": (67, "path leaves the directory"),
    "link": (68, "link points outside the directory"),
    "special": (69, "device or special file in archive"),
    "too_big": (70, "unpacks to more than the unpacked-size limit"),
    "too_many": (71, "has more entries than the entry limit"),
    "through_link": (72, "path goes through a link"),
    "hard_link": (73, "hard link to something other than an earlier file of the archive"),
    "conflict": (74, "member clashes with an earlier one"),
    "name": (75, "unusable name in archive"),
    "unwritable": (76, "cannot write the files"),
    "too_long": (77, f"name longer than {MAX_NAME_BYTES} bytes (the name limit)"),
    "too_deep": (78, f"path deeper than {MAX_DEPTH} components (the depth limit)"),
}
REASON_BY_EXIT_CODE = {code: reason for code, reason in REFUSALS.values()}


class UnsafeArchive(Exception):
    """The archive was refused; `kind` is a key of REFUSALS."""

    def __init__(self, kind: str, detail: str, message: str | None = None) -> None:
        detail = detail if len(detail) <= DETAIL_CHARS else detail[:DETAIL_CHARS] + "..."
        super().__init__(message or f"{REFUSALS[kind][1]}: {detail}")
        self.kind = kind


@dataclass(frozen=True)
class Limits:
    max_unpacked_mib: int = DEFAULT_MAX_UNPACKED_MIB
    max_entries: int = DEFAULT_MAX_ENTRIES

    @property
    def max_bytes(self) -> int:
        return self.max_unpacked_mib * MIB

    def arguments(self) -> list[str]:
        """The script's options for these limits."""
        return [
            *("--max-unpacked-mib", str(self.max_unpacked_mib)),
            *("--max-entries", str(self.max_entries)),
        ]


def safe_extract(
    archive: Path, destination: Path, limits: Limits | None = None, *, readable: bool = False
) -> int:
    """Unpack `archive` into `destination` (made if missing); returns the number of files.
    Raises UnsafeArchive, leaving `destination` empty, if refused. `readable`: every
    entry readable by all (see the module's Modes)."""
    limits = limits or Limits()
    destination.mkdir(parents=True, exist_ok=True)
    root = os.open(destination, DIR_FLAGS)
    try:
        with archive.open("rb") as raw, gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
            budget = _HeaderBudget(unzipped)
            with tarfile.open(fileobj=budget, mode="r|") as tar:  # type: ignore[call-overload]
                files = _Extractor(root, limits, readable).run(tar, budget)
            while budget.read(CHUNK):  # the gzip trailer: its CRC and length are checked
                pass
    except UnsafeArchive:
        _empty(root)
        raise
    except (
        *(tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, ValueError),
        *(RecursionError, MemoryError),  # chained long-name headers make tarfile recurse
    ) as error:
        _empty(root)
        raise UnsafeArchive("corrupt", str(error) or type(error).__name__) from error
    finally:
        os.close(root)
    return files


class _HeaderBudget:
    """The decompressed tar stream, refusing more than HEADER_LIMIT bytes between two
    `mark()`s (the extractor marks after each member and each piece of file data), so a
    pax header of a gigabyte is never read into memory."""

    def __init__(self, stream: gzip.GzipFile) -> None:
        self._stream = stream
        self._since_mark = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(CHUNK if size < 0 else size)
        self._since_mark += len(data)
        if self._since_mark > HEADER_LIMIT + CHUNK:
            raise UnsafeArchive("corrupt", f"headers or trailing data over {HEADER_LIMIT} bytes")
        return data

    def mark(self) -> None:
        self._since_mark = 0


class _Extractor:
    def __init__(self, root: int, limits: Limits, readable: bool = False) -> None:
        self._root = root
        self._limits = limits
        self._readable = readable
        self._written = 0
        self._entries = 0
        self._files: dict[tuple[str, ...], tuple[int, int]] = {}  # parts -> (dev, ino)

    def run(self, tar: tarfile.TarFile, budget: _HeaderBudget) -> int:
        for member in tar:
            budget.mark()
            self._count_entry()
            parts = _parts(member.name)
            try:
                self._member(tar, member, parts, budget)
            except gzip.BadGzipFile:
                raise  # reading, not writing: corrupt
            except OSError as error:
                raise UnsafeArchive(
                    "unwritable", f"{member.name}: {error.strerror or error}"
                ) from error
            vars(tar)["members"].clear()  # a stream needs no member again: memory stays flat
        return len(self._files)

    def _dir_mode(self, mode: int) -> int:
        return (mode & 0o777) | (0o755 if self._readable else 0o700)

    def _file_mode(self, mode: int) -> int:
        mode = (mode & 0o777) | 0o600
        if self._readable:
            mode |= 0o644 | (0o111 if mode & 0o100 else 0)
        return mode

    def _count_entry(self) -> None:
        self._entries += 1
        if self._entries > self._limits.max_entries:
            limit = self._limits.max_entries
            raise UnsafeArchive("too_many", "", f"has more than {limit} entries (the entry limit)")

    def _member(
        self,
        tar: tarfile.TarFile,
        member: tarfile.TarInfo,
        parts: tuple[str, ...],
        budget: _HeaderBudget,
    ) -> None:
        if member.isdir():
            if parts:
                fd = self._walk(parts, member.name, named=True)
                try:
                    os.fchmod(fd, self._dir_mode(member.mode))
                finally:
                    os.close(fd)
            return
        if not parts:
            raise UnsafeArchive("name", member.name or "(empty)")
        if member.issym():
            self._symlink(member, parts)
        elif member.islnk():
            self._hard_link(member, parts)
        elif member.isreg() and not member.issparse():
            self._file(tar, member, parts, budget)
        else:
            raise UnsafeArchive("special", member.name)

    def _file(
        self,
        tar: tarfile.TarFile,
        member: tarfile.TarInfo,
        parts: tuple[str, ...],
        budget: _HeaderBudget,
    ) -> None:
        if self._written + member.size > self._limits.max_bytes:
            limit = self._limits.max_unpacked_mib
            raise UnsafeArchive(
                "too_big",
                member.name,
                f"unpacks to more than {limit} MiB (the unpacked-size limit)",
            )
        source = tar.extractfile(member)
        assert source is not None  # a regular member always has data
        with self._entry(parts, member.name) as (parent, name):
            fd = os.open(name, FILE_FLAGS, 0o600, dir_fd=parent)
            try:
                left = member.size
                while left > 0:
                    data = source.read(min(CHUNK, left))
                    budget.mark()
                    if not data:
                        raise UnsafeArchive("corrupt", f"{member.name}: unexpected end of data")
                    _write_all(fd, data)
                    left -= len(data)
                    self._written += len(data)
                os.fchmod(fd, self._file_mode(member.mode))
                info = os.fstat(fd)
            finally:
                os.close(fd)
            self._files[parts] = (info.st_dev, info.st_ino)

    def _symlink(self, member: tarfile.TarInfo, parts: tuple[str, ...]) -> None:
        target = member.linkname
        shown = f"{member.name} -> {target}"
        if not target or "\0" in target or target.startswith("/"):
            raise UnsafeArchive("link", shown)
        pieces = [piece for piece in target.split("/") if piece not in ("", ".")]
        ups = 0
        while ups < len(pieces) and pieces[ups] == "..":
            ups += 1
        if ups > len(parts) - 1 or ".." in pieces[ups:]:
            raise UnsafeArchive("link", shown)
        with self._entry(parts, member.name) as (parent, name):
            os.symlink(target, name, dir_fd=parent)

    def _hard_link(self, member: tarfile.TarInfo, parts: tuple[str, ...]) -> None:
        shown = f"{member.name} -> {member.linkname}"
        try:
            source = _parts(member.linkname)
        except UnsafeArchive as refused:
            raise UnsafeArchive("hard_link", shown) from refused
        if source not in self._files or source == parts:
            raise UnsafeArchive("hard_link", shown)
        source_parent = self._walk(source[:-1], member.linkname, create=False)
        try:
            found = os.stat(source[-1], dir_fd=source_parent, follow_symlinks=False)
            if not stat.S_ISREG(found.st_mode) or (
                (found.st_dev, found.st_ino) != self._files[source]
            ):
                raise UnsafeArchive("hard_link", shown)
            with self._entry(parts, member.name) as (parent, name):
                os.link(
                    source[-1],
                    name,
                    src_dir_fd=source_parent,
                    dst_dir_fd=parent,
                    follow_symlinks=False,
                )
            self._files[parts] = self._files[source]
        finally:
            os.close(source_parent)

    def _entry(self, parts: tuple[str, ...], shown: str) -> _Entry:
        """The parent directory's descriptor and the free name, for a new file or link."""
        parent = self._walk(parts[:-1], shown)
        self._files.pop(parts, None)
        return _Entry(parent, parts[-1], shown)

    def _walk(
        self, parts: tuple[str, ...], shown: str, *, create: bool = True, named: bool = False
    ) -> int:
        """A descriptor of the directory `parts` under the root, every component opened
        without following links (and made when missing, if `create`: an entry each, but the
        last when `named`, the member itself, already counted)."""
        fd = os.dup(self._root)
        try:
            for index, part in enumerate(parts):
                try:
                    child = os.open(part, DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    if not (named and index == len(parts) - 1):
                        self._count_entry()
                    os.mkdir(part, 0o755, dir_fd=fd)
                    child = os.open(part, DIR_FLAGS, dir_fd=fd)
                    if self._readable:  # whatever the umask
                        os.fchmod(child, 0o755)
                except OSError as error:
                    if error.errno not in (errno.ELOOP, errno.ENOTDIR):
                        raise
                    found = os.stat(part, dir_fd=fd, follow_symlinks=False)
                    kind = "through_link" if stat.S_ISLNK(found.st_mode) else "conflict"
                    raise UnsafeArchive(kind, shown) from error
                os.close(fd)
                fd = child
        except BaseException:
            os.close(fd)
            raise
        return fd


class _Entry:
    """`with` it: (parent fd, name) with the name free (an earlier file or link of that
    name unlinked, a directory refused); closes the parent after."""

    def __init__(self, parent: int, name: str, shown: str) -> None:
        self.parent, self.name, self.shown = parent, name, shown

    def __enter__(self) -> tuple[int, str]:
        try:
            found = os.stat(self.name, dir_fd=self.parent, follow_symlinks=False)
        except FileNotFoundError:
            return self.parent, self.name
        except BaseException:
            os.close(self.parent)
            raise
        try:
            if stat.S_ISDIR(found.st_mode):
                raise UnsafeArchive("conflict", self.shown)
            os.unlink(self.name, dir_fd=self.parent)
        except BaseException:
            os.close(self.parent)
            raise
        return self.parent, self.name

    def __exit__(self, *exc: object) -> None:
        os.close(self.parent)


def _parts(name: str) -> tuple[str, ...]:
    """A member name's components, or UnsafeArchive."""
    if not name or "\0" in name:
        raise UnsafeArchive("name", repr(name))
    if name.startswith("/"):
        raise UnsafeArchive("absolute", name)
    if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        raise UnsafeArchive("too_long", name)
    parts = tuple(part for part in name.split("/") if part not in ("", "."))
    if ".." in parts:
        raise UnsafeArchive("escape", name)
    if len(parts) > MAX_DEPTH:
        raise UnsafeArchive("too_deep", name)
    return parts


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _empty(root: int) -> None:
    """Remove everything unpacked (a refusal is reported even if some of it stays)."""
    with contextlib.suppress(OSError):
        _empty_dir(root)


def remove_tree(path: Path) -> None:
    """Remove `path`, a directory with all in it or a file or link (never followed), if it
    exists: a loop, not a recursion, holding two descriptors whatever the depth; modes that
    forbid listing or removing are lifted as it goes. Raises OSError."""
    parent = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd = _open_dir(parent, path.name)
        if fd is not None:
            try:
                _empty_dir(fd)
            finally:
                os.close(fd)
            os.rmdir(path.name, dir_fd=parent)
    finally:
        os.close(parent)


def _empty_dir(top: int) -> None:
    """Remove everything in the directory open as `top`. Depth first with an explicit
    stack of (name, identity, subdirectories left); climbs back by `..`, checked against
    the identity it left, so a directory moved meanwhile stops it rather than misleads it."""
    fd = os.dup(top)
    stack = [("", _identity(fd), _sweep(fd))]
    try:
        while stack:
            name, _, subdirs = stack[-1]
            if subdirs:
                sub = subdirs.pop()
                child = _open_dir(fd, sub)
                if child is not None:
                    os.close(fd)
                    fd = child
                    stack.append((sub, _identity(fd), _sweep(fd)))
                continue
            stack.pop()
            if stack:
                parent = os.open("..", DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = parent
                if _identity(fd) != stack[-1][1]:
                    raise OSError(errno.ESTALE, "directory moved while being removed", name)
                os.rmdir(name, dir_fd=fd)
    finally:
        os.close(fd)


def _open_dir(parent: int, name: str) -> int | None:
    """`name` in `parent` opened as a directory, made accessible to its owner; None when it
    was a file or link (now unlinked) or is missing."""
    try:
        try:
            fd = os.open(name, DIR_FLAGS, dir_fd=parent)
        except PermissionError:  # mode 000 or alike: lift it on the directory itself
            path_fd = os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent)
            try:
                os.chmod(f"/proc/self/fd/{path_fd}", 0o700)
            finally:
                os.close(path_fd)
            fd = os.open(name, DIR_FLAGS, dir_fd=parent)
    except FileNotFoundError:
        return None
    except OSError as error:
        if error.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=parent)
        return None
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) & 0o700 != 0o700:
            os.fchmod(fd, 0o700)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _sweep(fd: int) -> list[str]:
    """Unlink every file and link in the directory `fd`; the names of its subdirectories."""
    with os.scandir(fd) as entries:
        found = [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in entries]
    for name, is_dir in found:
        if not is_dir:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name, dir_fd=fd)
    return [name for name, is_dir in found if is_dir]


def _identity(fd: int) -> tuple[int, int]:
    found = os.fstat(fd)
    return found.st_dev, found.st_ino


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="unpack")
    parser.add_argument("archive", type=Path)
    parser.add_argument("destination", type=Path)
    parser.add_argument("--max-unpacked-mib", type=int, default=DEFAULT_MAX_UNPACKED_MIB)
    parser.add_argument("--max-entries", type=int, default=DEFAULT_MAX_ENTRIES)
    parser.add_argument("--readable-by-all", action="store_true")
    args = parser.parse_args(argv[1:])
    if not args.archive.exists():
        return 0  # this execution has no upload
    limits = Limits(args.max_unpacked_mib, args.max_entries)
    try:
        count = safe_extract(args.archive, args.destination, limits, readable=args.readable_by_all)
    except UnsafeArchive as refused:
        print(f"mycli: upload refused: {refused}", file=sys.stderr)
        return REFUSALS[refused.kind][0]
    print(
        f"mycli: unpacked {count} file{'' if count == 1 else 's'} into {args.destination}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
