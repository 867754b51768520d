"""GET /me"""

from orchestrator.api.routes.me import router
from orchestrator.handlers.runtime import serve_route

handler = serve_route(router)
