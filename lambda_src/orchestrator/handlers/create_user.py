"""POST /users"""

from orchestrator.api.routes.users import router
from orchestrator.handlers.runtime import serve_route

handler = serve_route(router)
