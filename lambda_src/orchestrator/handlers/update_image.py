"""PATCH /images/{name}"""

from orchestrator.api.routes.images import router
from orchestrator.handlers.runtime import serve_route

handler = serve_route(router)
