"""`mycli exec --upload DIR`: pack a directory as a gzip tarball and PUT it to an upload slot."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from mycli import exitcodes
from mycli.errors import CliError

PROGRESS_THRESHOLD = 1024 * 1024
CHUNK = 256 * 1024


@dataclass(frozen=True)
class Archive:
    path: Path
    files: int
    size: int


def files_to_pack(directory: Path) -> list[str]:
    """Inside a git work tree, what git would commit (tracked, and untracked but not ignored);
    elsewhere every file but .git/. Paths are relative to `directory`."""
    listed = _git_files(directory)
    if listed is not None:
        return sorted(
            path
            for path in listed
            if (directory / path).is_file() or (directory / path).is_symlink()
        )
    found = []
    for root, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        for name in names:
            found.append(str((Path(root) / name).relative_to(directory)))
    return sorted(found)


def pack(directory: Path) -> Archive:
    if not directory.is_dir():
        raise CliError(f"--upload: {directory} is not a directory", exitcodes.USAGE)
    paths = files_to_pack(directory)
    handle, name = tempfile.mkstemp(prefix="mycli-upload-", suffix=".tar.gz")
    os.close(handle)
    with tarfile.open(name, mode="w:gz") as tar:
        for relative in paths:
            tar.add(directory / relative, arcname=relative, recursive=False, filter=_anonymous)
    return Archive(Path(name), len(paths), Path(name).stat().st_size)


def put(slot: dict[str, Any], archive: Archive) -> None:
    """PUT the archive to the slot's URL with its headers, with a progress bar past 1 MB."""
    url = urlsplit(slot["url"])
    connection: http.client.HTTPConnection
    if url.scheme == "https":
        connection = http.client.HTTPSConnection(url.hostname or "", url.port, timeout=300)
    else:
        connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=300)
    target = url.path + (f"?{url.query}" if url.query else "")
    try:
        connection.putrequest(slot.get("method", "PUT"), target, skip_accept_encoding=True)
        for header, value in slot.get("headers", {}).items():
            connection.putheader(header, value)
        connection.putheader("Content-Length", str(archive.size))
        connection.endheaders()
        for chunk in _chunks(archive):
            connection.send(chunk)
        response = connection.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException) as error:
        raise CliError(f"the upload failed: {error}") from error
    finally:
        connection.close()
    if response.status == 413:
        raise CliError(
            f"the upload is {human(archive.size)}, over the server's limit (HTTP 413)",
            exitcodes.USAGE,
        )
    if response.status >= 300:
        raise CliError(f"the upload was refused (HTTP {response.status}): {body[:200]!r}")


def _chunks(archive: Archive) -> Iterator[bytes]:
    with archive.path.open("rb") as source:
        if archive.size <= PROGRESS_THRESHOLD:
            yield source.read()
            return
        with click.progressbar(
            length=archive.size, label="mycli: uploading", file=sys.stderr
        ) as bar:
            while chunk := source.read(CHUNK):
                yield chunk
                bar.update(len(chunk))


def _git_files(directory: Path) -> list[str] | None:
    try:
        inside = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "--is-inside-work-tree"],
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        return None
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        return None
    listed = subprocess.run(
        ["git", "-C", str(directory), "ls-files", "-z", "-co", "--exclude-standard"],
        capture_output=True,
        check=True,
    )
    return [path for path in listed.stdout.decode().split("\0") if path]


def _anonymous(member: tarfile.TarInfo) -> tarfile.TarInfo:
    member.uid = member.gid = 0
    member.uname = member.gname = ""
    return member


def human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
