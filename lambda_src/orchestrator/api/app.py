"""Builds a Powertools resolver from the routers: the one API, hosted by Lambda or locally."""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.api_gateway import ResponseBuilder, Router
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
    OpenAPIRequestValidationMiddleware,
)
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.types import EventHandlerInstance
from aws_lambda_powertools.utilities.typing import LambdaContext

from orchestrator import __version__
from orchestrator.api.auth import API_KEY_HEADER, authenticate
from orchestrator.api.context import request_scope
from orchestrator.api.errors import as_throttled, proxy_error, register_error_handlers
from orchestrator.api.headers import with_policy_headers
from orchestrator.domain.errors import MycliError
from orchestrator.domain.services import Services

API_TITLE = "mycli"


def all_routers() -> list[Router]:
    from orchestrator.api.routes import (
        console,
        executions,
        health,
        images,
        imports,
        locks,
        me,
        quota,
        secrets,
        uploads,
        users,
    )

    return [
        health.router,
        me.router,
        executions.router,
        quota.router,
        locks.router,
        users.router,
        uploads.router,
        secrets.router,
        console.router,
        images.router,
        imports.router,
    ]


class _JsonBodies(OpenAPIRequestValidationMiddleware):
    """Reads a route's body as JSON only, and turns every way a body can be unreadable into
    a validation error (400) instead of an exception: not base64 or UTF-8, not JSON, nested
    too deeply, numbers too long to convert. Other media types are 415."""

    def _get_body(self, app: EventHandlerInstance) -> Any:
        event = app.current_event
        media_type = (event.headers.get("content-type") or "").split(";")[0].strip().lower()
        if media_type not in ("", "application/json"):
            raise RequestUnsupportedContentType(
                "Unsupported content type",
                errors=[{"type": "unsupported_content_type", "loc": ("body",), "input": {}}],
            )
        body = event.body
        if not body:
            return None
        try:
            text = (
                base64.b64decode(body, validate=True).decode("utf-8")
                if event.is_base64_encoded
                else body
            )
        except (binascii.Error, UnicodeDecodeError):
            raise _unreadable("body_not_utf8") from None
        try:
            return json.loads(text)
        except RecursionError:
            raise _unreadable("json_too_deep") from None
        except ValueError:  # JSONDecodeError, or an integer literal over Python's digit limit
            raise _unreadable("json_invalid") from None


def _unreadable(kind: str) -> RequestValidationError:
    return RequestValidationError([{"type": kind, "loc": ("body",), "input": {}}])


class _RawBytes(ResponseBuilder):  # type: ignore[type-arg]
    """A bytes body stays bytes in the result (`isBase64Encoded` false), for a host that
    writes it to the socket itself: base64 there and back costs more than the page's read.
    API Gateway needs base64, so the Lambda host keeps Powertools' own builder."""

    def build(self, event: Any, cors: Any = None) -> dict[str, Any]:
        body = self.response.body
        if not isinstance(body, bytes):
            return super().build(event, cors)
        self.response.body = ""
        result = super().build(event, cors)
        result["body"] = body
        return result


# The request each thread is serving. Powertools keeps it on a class attribute that every
# resolver in the process shares (BaseRouter.current_event), and a Router reads it through the
# last resolver that included it: with requests served in parallel threads (the local server's
# workers, the twin's function instances) one request's route read another's path and body.
_serving = threading.local()


class _Resolver(APIGatewayRestResolver):
    """Routes match the path as sent (a "/" inside a value stays %2F); each path value is then
    percent-decoded here, exactly once, before validation sees it. Bodies are JSON only. The
    current event and context are the calling thread's own."""

    def __init__(self, raw_bytes: bool = False) -> None:
        super().__init__(enable_validation=True)
        self._request_validation_middleware = _JsonBodies()
        if raw_bytes:
            self._response_builder_class = _RawBytes

    @property
    def current_event(self) -> Any:
        return _serving.event

    @current_event.setter
    def current_event(self, value: Any) -> None:
        _serving.event = value

    @property
    def lambda_context(self) -> LambdaContext:
        context: LambdaContext = _serving.context
        return context

    @lambda_context.setter
    def lambda_context(self, value: LambdaContext) -> None:
        _serving.context = value

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        self.current_event = self._to_proxy_event(dict(event))
        self.lambda_context = context
        return super().resolve(event, context)

    def _convert_matches_into_route_keys(self, match: re.Match[str]) -> dict[str, str]:
        return {key: unquote(value) for key, value in match.groupdict().items()}


def build_resolver(
    routers: Iterable[Router] | None = None, *, raw_bytes: bool = False
) -> APIGatewayRestResolver:
    """A resolver serving `routers` (all of them by default), errors mapped in one place;
    `raw_bytes`: binary bodies as bytes, not base64 text (for the local host)."""
    app = _Resolver(raw_bytes)
    for router in routers if routers is not None else all_routers():
        app.include_router(router)
    register_error_handlers(app)
    return app


class Api:
    """Serves API Gateway REST proxy events: authenticate, then resolve. Both hosts (a Lambda
    handler, the local server) call `handle`; one instance serves one request at a time.
    `raw_bytes`: a binary body comes back as bytes (the local server), not base64 (Lambda)."""

    def __init__(self, routers: Iterable[Router] | None = None, *, raw_bytes: bool = False) -> None:
        self.resolver = build_resolver(routers, raw_bytes=raw_bytes)

    def handle(
        self, event: dict[str, Any], context: LambdaContext, services: Services
    ) -> dict[str, Any]:
        request_id = (event.get("requestContext") or {}).get("requestId")
        with request_scope(services, request_id) as scope:
            try:
                authenticate(event, scope)
            except MycliError as error:
                result = proxy_error(error)
            except Exception as error:  # the key lookup was throttled: 429, not a crash
                throttled = as_throttled(error)
                if throttled is None:
                    raise
                result = proxy_error(throttled)
            else:
                result = self.resolver.resolve(event, context)
        return with_policy_headers(result, event.get("path") or "")


def openapi_json() -> str:
    """The OpenAPI document of every route (served at /openapi.json, kept in docs/)."""
    from aws_lambda_powertools.event_handler.openapi.models import APIKey

    app = build_resolver()
    api_key = APIKey.model_validate({"in": "header", "name": API_KEY_HEADER})
    document = json.loads(
        app.get_openapi_json_schema(
            title=API_TITLE,
            version=__version__,
            description="Run commands on a shared platform; every run recorded, named locks. "
            "Errors are {error: {code, message, details}}; an unknown path is 404, another "
            "method on a known path 405.",
            security_schemes={"apiKey": api_key},
        )
    )
    return json.dumps(_without_unused_validation_error(document), indent=2)


def _without_unused_validation_error(document: dict[str, Any]) -> dict[str, Any]:
    """Powertools documents a 422 for every validated route, but api.errors answers invalid
    requests with 400 and the error body: the document lists only what the API answers (a
    route's own 422, with the error body, stays)."""
    for operations in document["paths"].values():
        for operation in operations.values():
            if "HTTPValidationError" in json.dumps(operation["responses"].get("422", {})):
                del operation["responses"]["422"]
    schemas = document["components"]["schemas"]
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document
