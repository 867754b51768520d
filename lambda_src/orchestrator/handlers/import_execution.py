"""PUT /import/executions/{execution_id}"""

from orchestrator.api.routes.imports import router
from orchestrator.handlers.runtime import serve_route

handler = serve_route(router)
