"""Builds a Powertools resolver from the routers: the one API, hosted by Lambda or locally."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.utilities.typing import LambdaContext

from orchestrator import __version__
from orchestrator.api.auth import API_KEY_HEADER, authenticate
from orchestrator.api.context import request_scope
from orchestrator.api.errors import proxy_error, register_error_handlers
from orchestrator.domain.errors import MycliError
from orchestrator.domain.services import Services

API_TITLE = "mycli"


def all_routers() -> list[Router]:
    from orchestrator.api.routes import console, executions, health, locks, me, uploads, users

    return [
        health.router,
        me.router,
        executions.router,
        locks.router,
        users.router,
        uploads.router,
        console.router,
    ]


class _Resolver(APIGatewayRestResolver):
    """Routes match the path as sent (a "/" inside a value stays %2F); each path value is then
    percent-decoded here, exactly once, before validation sees it."""

    def _convert_matches_into_route_keys(self, match: re.Match[str]) -> dict[str, str]:
        return {key: unquote(value) for key, value in match.groupdict().items()}


def build_resolver(routers: Iterable[Router] | None = None) -> APIGatewayRestResolver:
    """A resolver serving `routers` (all of them by default), errors mapped in one place."""
    app = _Resolver(enable_validation=True)
    for router in routers if routers is not None else all_routers():
        app.include_router(router)
    register_error_handlers(app)
    return app


class Api:
    """Serves API Gateway REST proxy events: authenticate, then resolve. Both hosts (a Lambda
    handler, the local server) call `handle`; one instance serves one request at a time."""

    def __init__(self, routers: Iterable[Router] | None = None) -> None:
        self.resolver = build_resolver(routers)

    def handle(
        self, event: dict[str, Any], context: LambdaContext, services: Services
    ) -> dict[str, Any]:
        request_id = (event.get("requestContext") or {}).get("requestId")
        with request_scope(services, request_id) as scope:
            try:
                authenticate(event, scope)
            except MycliError as error:
                return proxy_error(error)
            return self.resolver.resolve(event, context)


def openapi_json() -> str:
    """The OpenAPI document of every route (served at /openapi.json, kept in docs/)."""
    from aws_lambda_powertools.event_handler.openapi.models import APIKey

    app = build_resolver()
    api_key = APIKey.model_validate({"in": "header", "name": API_KEY_HEADER})
    return app.get_openapi_json_schema(
        title=API_TITLE,
        version=__version__,
        description="Run commands on a shared platform; every run recorded, named locks.",
        security_schemes={"apiKey": api_key},
        security=[{"apiKey": []}],
    )
