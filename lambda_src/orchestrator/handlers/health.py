"""GET /health"""

from orchestrator.api.routes.health import router
from orchestrator.handlers.runtime import serve_route

handler = serve_route(router)
