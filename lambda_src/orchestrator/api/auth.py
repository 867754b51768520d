"""Authentication middleware: X-API-Key → caller, for every route but the public ones."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from orchestrator.api.context import current_scope

API_KEY_HEADER = "X-API-Key"
PUBLIC_PATHS = frozenset({"/health", "/openapi.json"})


def authenticate(app: ApiGatewayResolver, next_middleware: NextMiddleware) -> Response[object]:
    if app.current_event.path not in PUBLIC_PATHS:
        scope = current_scope()
        api_key = app.current_event.headers.get(API_KEY_HEADER) or app.current_event.headers.get(
            API_KEY_HEADER.lower()
        )
        scope.caller = scope.services.users.authenticate(api_key)
    return next_middleware(app)
