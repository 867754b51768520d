"""The web console: a build-free single-page app (plain ES modules) in `static/`, served by
the platform itself (api/routes/console.py) on both hosts, without an API key.

Only the files present in `static/` when the process starts can be served, by their plain
names: nothing from a request is ever joined to a filesystem path."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
INDEX = "index.html"
ROOT_PLACEHOLDER = "%ROOT%"  # in index.html: the relative way back to /ui/ from the page's URL

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}

# What every console response carries: no inline script, no eval, nothing from elsewhere,
# never framed, no referrer, no type sniffing.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}


@dataclass(frozen=True)
class StaticFile:
    content_type: str
    text: str


@cache
def static_files() -> dict[str, StaticFile]:
    """name → file, for every servable file (index.html is served only as a page)."""
    return {
        path.name: StaticFile(CONTENT_TYPES[path.suffix], path.read_text(encoding="utf-8"))
        for path in sorted(STATIC_DIR.iterdir())
        if path.is_file() and path.suffix in CONTENT_TYPES and path.name != INDEX
    }


@cache
def _index_template() -> str:
    return (STATIC_DIR / INDEX).read_text(encoding="utf-8")


def index_page(path: str) -> str:
    """The app's page for a request to `path` (/ui/, /ui/locks, /ui/executions/<id>, ...),
    its links relative to /ui/ so it works under any stage prefix (AWS's /prod)."""
    depth = path.removeprefix("/ui/").count("/")
    return _index_template().replace(ROOT_PLACEHOLDER, "../" * depth or "./")
