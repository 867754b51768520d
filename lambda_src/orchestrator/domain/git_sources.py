"""Git sources: which repository URLs, refs and subdirectories a run may name, on every
backend. A source is checked before anything is recorded, so a refused one costs nothing.

Supported URLs: `https://`, `http://`, `ssh://` and scp-like `user@host:path`, and
`file://` (a repository on the host that clones). Refused: credentials in the URL (they
belong in a stored secret), `transport::address` forms such as `ext::` (they run
programs), anything starting with `-` (it would read as an option to git), and control
characters or blanks. A scheme is case-insensitive to the rules but not to git (which refuses
`HTTP://`): the checked URL, with its scheme in lower case, is the one stored and fetched."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from urllib.parse import urlsplit

from orchestrator.domain.errors import ValidationFailed
from orchestrator.domain.models import GitSource, TextKind, text_problem

MAX_GIT_URL_LENGTH = 2048
MAX_GIT_REF_LENGTH = 255
MAX_GIT_SUBDIR_LENGTH = 1024
URL_SCHEMES = ("https", "http", "ssh", "file")
# A full commit id (SHA-1, or SHA-256 for repositories that use it): fetched by id.
COMMIT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
# What `git check-ref-format` accepts, narrowed to plain ASCII: a ref never starts with `-`,
# `/` or `.`, and never holds `..`, `//`, `@{` nor ends with `/`, `.` or `.lock`.
GIT_REF_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9._/+-]*$"
_REF = re.compile(GIT_REF_PATTERN)
_SCP_LIKE = re.compile(
    r"(?:(?P<user>[A-Za-z0-9._-]+)@)?(?P<host>[A-Za-z0-9][A-Za-z0-9.-]*):(?P<path>.+)"
)
_TRANSPORT = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")
_BLANK = re.compile(r"\s")
USE_SECRET = "put credentials in a stored secret and name it with --git-secret (git_secret)"


def is_commit_id(ref: str | None) -> bool:
    """Whether `ref` names a commit by its full id (rather than a branch or a tag)."""
    return ref is not None and COMMIT_ID.fullmatch(ref) is not None


def split_source(source: str) -> tuple[str, str | None]:
    """(URL, REF) of `URL[#REF]`, the form `mycli exec --git` and playbooks take."""
    url, separator, ref = source.rpartition("#")
    return (url, ref or None) if separator else (source, None)


def checked_source(
    url: str | None, ref: str | None, subdir: str | None, secret: str | None
) -> GitSource | None:
    """The git source these request fields describe, None without a URL; raises
    ValidationFailed (400) with what is wrong."""
    if url is None:
        if ref is not None or subdir is not None or secret is not None:
            raise ValidationFailed("git_ref, git_subdir and git_secret need git_url")
        return None
    url = check_url(url)
    if ref is not None:
        check_ref(ref)
    if subdir is not None:
        subdir = check_subdir(subdir)
    if secret is not None and _in_the_clear(url):
        raise ValidationFailed(
            "git_secret goes only over https://, ssh or to this host: http:// would send the "
            "credential in the clear",
            {"field": "git_secret"},
        )
    return GitSource(url=url, ref=ref, subdir=subdir, secret=secret)


def _in_the_clear(url: str) -> bool:
    """Whether `url` (already checked) is plain http:// to a host other than this one."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "http":
        return False
    host = parts.hostname or ""
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


def check_url(url: str) -> str:
    """`url` as git is to be given it (its scheme in lower case), or ValidationFailed for a
    URL git should not be given (see the module's docstring)."""

    refuse = _refusal("git_url")
    _check_text(url, MAX_GIT_URL_LENGTH, refuse)
    if url.startswith("-"):
        raise refuse("must not start with '-'")
    if _BLANK.search(url):
        raise refuse("must not contain blanks")
    if _TRANSPORT.match(url):
        raise refuse("must not use a transport::address form (such as ext::)")
    if "://" not in url:
        _check_scp_like(url, refuse)
        return url
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (parsed lazily: a bad port or bracketed host raises here)
    except ValueError as malformed:
        raise refuse(f"is not a valid URL ({malformed})") from None
    scheme = parts.scheme.lower()
    if scheme not in URL_SCHEMES:
        raise refuse(f"must use one of {', '.join(URL_SCHEMES)} (or user@host:path)")
    url = scheme + url[len(parts.scheme) :]
    if parts.fragment or "#" in url:
        raise refuse("must not hold '#': give the ref as git_ref (mycli: URL#REF)")
    if parts.password is not None or (scheme in ("https", "http") and parts.username):
        raise refuse(f"must not hold credentials: {USE_SECRET}")
    if scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise refuse("file:// takes an absolute path on the host: file:///srv/repo.git")
        return url
    if not parts.hostname or parts.hostname.startswith("-"):
        raise refuse("names no host")
    return url


def _check_scp_like(url: str, refuse: Callable[[str], ValidationFailed]) -> None:
    match = _SCP_LIKE.fullmatch(url)
    if match is None or "/" in url.split(":", 1)[0]:
        raise refuse(f"must use one of {', '.join(URL_SCHEMES)}:// or the user@host:path form")
    if match.group("path").startswith(":"):
        raise refuse("must not use a transport::address form (such as ext::)")


def check_ref(ref: str) -> None:
    """Refuse a ref that is not a plain branch, tag or commit id (or reads as an option)."""
    bad = (
        not 1 <= len(ref) <= MAX_GIT_REF_LENGTH
        or not _REF.fullmatch(ref)
        or ".." in ref
        or "//" in ref
        or ref.endswith(("/", ".", ".lock"))
        or "/." in ref
    )
    if bad:
        raise ValidationFailed(
            f"git_ref {ref[:80]!r} is not a branch, tag or commit id: letters, digits and "
            "._/+- (not first: . / + -), no '..' or '//', at most "
            f"{MAX_GIT_REF_LENGTH} characters",
            {"field": "git_ref"},
        )


def check_subdir(subdir: str) -> str:
    """The subdirectory in its plain form (`a/b`), or ValidationFailed: it stays inside the
    checkout (relative, no `..`)."""

    refuse = _refusal("git_subdir")
    _check_text(subdir, MAX_GIT_SUBDIR_LENGTH, refuse)
    if subdir.startswith("/"):
        raise refuse("must be relative to the repository's top")
    parts = [part for part in subdir.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise refuse("must not contain '..'")
    if not parts:
        raise refuse("names no directory (leave it out for the top)")
    return "/".join(parts)


def _refusal(field: str) -> Callable[[str], ValidationFailed]:
    """How a check of `field` says what is wrong (400, naming the field)."""

    def refuse(why: str) -> ValidationFailed:
        return ValidationFailed(f"{field} {why}", {"field": field})

    return refuse


def _check_text(value: str, max_length: int, refuse: Callable[[str], ValidationFailed]) -> None:
    """The platform's text rule for names, and a length of 1 to `max_length`."""
    problem = text_problem(value, TextKind.NAME)
    if problem is not None:
        raise refuse(problem)
    if not value or len(value) > max_length:
        raise refuse(f"must be 1 to {max_length} characters")
