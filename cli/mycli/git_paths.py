"""`mycli exec --git PATH`: a repository given as a plain path on this machine (absolute,
`./`, `../`, `~`, or an existing directory) becomes the `file://` URL of its absolute path,
which is what the server's checkout reads (on the server's host: the embedded platform's
machine). Anything else (a URL, `user@host:path`) is left to the server's rules."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import click

PATH_PREFIXES = ("/", "./", "../", "~")


def looks_like_path(source: str) -> bool:
    """Whether `source` names a local path rather than a URL or git's `host:path` form
    (git's own rule: a `:` before any `/` makes it scp-like)."""
    if "://" in source:
        return False
    if source in (".", "..", "~") or source.startswith(PATH_PREFIXES):
        return True
    if ":" in source.split("/", 1)[0]:
        return False
    return Path(source).is_dir()


def repository_url(source: str, secret: str | None) -> str:
    """`source` unchanged unless it is a plain path: then the `file://` URL of the repository
    there, or a usage error (exit 2) saying what is wrong with it."""
    if source.startswith("-") or not looks_like_path(source):
        return source
    if secret is not None:
        raise click.UsageError(
            "--git-secret is for a remote repository: a local path needs no credential"
        )
    path = Path(source).expanduser()
    if not path.exists():
        raise click.BadParameter(f"{source!r}: no such directory", param_hint="--git")
    if not path.is_dir():
        raise click.BadParameter(f"{source!r} is not a directory", param_hint="--git")
    path = path.resolve()
    if not ((path / ".git").exists() or (path / "HEAD").is_file()):
        raise click.BadParameter(
            f"{source!r} is not a git repository (no .git, and not a bare repository)",
            param_hint="--git",
        )
    return "file://" + quote(str(path), safe="/")
