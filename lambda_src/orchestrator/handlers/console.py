"""GET /ui and /ui/{proxy+}: the web console's files (no key, no AWS client)."""

from orchestrator.api.routes.console import router
from orchestrator.handlers.runtime import serve_route

handler = serve_route(router)
