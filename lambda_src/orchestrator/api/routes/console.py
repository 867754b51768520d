"""GET /ui/...: the web console's static files and its page, open without a key (the app
itself asks for one). Not API operations: kept out of the OpenAPI document.

One route answers every path below /ui/, however deep or odd (`/ui/a/b`, `/ui/x.js`,
`/ui/..%2f`, characters no route pattern allows): a file, the app's page, or the app's 404
page, always with the console's headers (api/headers.py adds them to whatever answers)."""

from __future__ import annotations

from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from orchestrator.console import SECURITY_HEADERS, index_page, static_files

router = Router()

# Pages of the app (besides /ui/executions/<id>); anything else not a file is a 404 page.
APP_PAGES = frozenset({"locks", "users"})
# Powertools compiles a rule as a regex: this one matches every path below /ui/, newlines too.
EVERY_CONSOLE_PATH = r"/ui/[\s\S]*"


def _reply(status: int, content_type: str, body: str, **headers: str) -> Response[str]:
    return Response(
        status_code=status,
        content_type=content_type,
        body=body,
        headers={**SECURITY_HEADERS, **headers},
    )


def _page(status: int = 200) -> Response[str]:
    return _reply(status, "text/html; charset=utf-8", index_page(router.current_event.path))


@router.get("/ui", include_in_schema=False)
def console_home() -> Response[str]:
    if not router.current_event.path.endswith("/"):
        # /ui → /ui/ (relative, so a stage prefix such as /prod stays)
        return _reply(302, "text/plain; charset=utf-8", "see ui/\n", Location="ui/")
    return _page()


@router.get(EVERY_CONSOLE_PATH, include_in_schema=False)
def console_path() -> Response[str]:
    """/ui/ (the app), /ui/NAME (a file, or a page of the app), /ui/executions/ID (one run's
    page); anything else is the app's 404 page. Trailing slashes are ignored."""
    rest = router.current_event.path.removeprefix("/ui/").rstrip("/")
    if not rest:
        return _page()
    parts = rest.split("/")
    if len(parts) == 1:
        name = unquote(parts[0])  # decoded once, only to look it up among the files' names
        found = static_files().get(name)
        if found is not None:
            return _reply(200, found.content_type, found.text)
        return _page(200 if name in APP_PAGES else 404)
    if len(parts) == 2 and parts[0] == "executions":
        # The app reads the id from its URL and asks the API (with the viewer's key) for it.
        return _page()
    return _page(404)
