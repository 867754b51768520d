"""Builds a Powertools resolver from the routers: the one API, hosted by Lambda or locally."""

from __future__ import annotations

from collections.abc import Iterable

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.api_gateway import Router

from orchestrator import __version__
from orchestrator.api.auth import API_KEY_HEADER, authenticate
from orchestrator.api.errors import register_error_handlers

API_TITLE = "mycli"


def all_routers() -> list[Router]:
    from orchestrator.api.routes import executions, health, locks, me, users

    return [health.router, me.router, executions.router, locks.router, users.router]


def build_resolver(routers: Iterable[Router] | None = None) -> APIGatewayRestResolver:
    """A resolver serving `routers` (all of them by default) behind the auth middleware."""
    app = APIGatewayRestResolver(enable_validation=True)
    for router in routers if routers is not None else all_routers():
        app.include_router(router)
    app.use(middlewares=[authenticate])
    register_error_handlers(app)
    return app


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
