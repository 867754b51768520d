"""DELETE /secrets/{name}"""

from orchestrator.api.routes.secrets import router
from orchestrator.handlers.runtime import serve_route

handler = serve_route(router)
