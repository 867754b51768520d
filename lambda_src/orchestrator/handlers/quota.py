"""GET /quota"""

from orchestrator.api.routes.quota import router
from orchestrator.handlers.runtime import serve_route

handler = serve_route(router)
