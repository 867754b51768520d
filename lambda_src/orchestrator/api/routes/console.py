"""GET /ui/...: the web console's static files and its page, open without a key (the app
itself asks for one). Not API operations: kept out of the OpenAPI document."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from orchestrator.console import SECURITY_HEADERS, index_page, static_files

router = Router()

# Pages of the app (besides /ui/executions/<id>); anything else not a file is a 404 page.
APP_PAGES = frozenset({"locks", "users"})


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


@router.get("/ui/<name>", include_in_schema=False)
def console_file(name: str) -> Response[str]:
    found = static_files().get(name)
    if found is not None:
        return _reply(200, found.content_type, found.text)
    return _page(200 if name in APP_PAGES else 404)


@router.get("/ui/executions/<execution_id>", include_in_schema=False)
def console_execution(execution_id: str) -> Response[str]:
    # The app reads the id from its URL and asks the API (with the viewer's key) for it.
    return _page()
