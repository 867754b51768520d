"""POST /uploads"""

from orchestrator.api.routes.uploads import router
from orchestrator.handlers.runtime import serve_route

handler = serve_route(router)
