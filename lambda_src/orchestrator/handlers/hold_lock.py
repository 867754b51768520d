"""POST /locks/{lock_name}/hold"""

from orchestrator.api.routes.locks import router
from orchestrator.handlers.runtime import serve_route

handler = serve_route(router)
