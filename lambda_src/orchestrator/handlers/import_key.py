"""PUT /import/keys/{api_key_hash}"""

from orchestrator.api.routes.imports import router
from orchestrator.handlers.runtime import serve_route

handler = serve_route(router)
