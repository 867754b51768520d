"""What every function shares: settings read once, Powertools Logger/Tracer/Metrics, the
services (adapters built lazily, once per container), and the route-serving wrapper."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from orchestrator.adapters.aws.clients import AwsClients
from orchestrator.adapters.aws.composition import AwsPorts, build_services
from orchestrator.adapters.aws.metrics import NAMESPACE, PowertoolsMetrics
from orchestrator.adapters.aws.settings import AwsSettings
from orchestrator.api.app import Api
from orchestrator.domain.services import Services

SERVICE = "mycli"
logger = Logger(service=SERVICE)
# botocore is patched (and so imported) when the first client is built, not at import.
tracer = Tracer(service=SERVICE, auto_patch=False)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


@cache
def settings() -> AwsSettings:
    return AwsSettings.from_environment()


@cache
def clients() -> AwsClients:
    """The container's AWS clients, their calls traced: the X-Ray patch imports botocore
    (~100 ms), so it runs before the first client is built (`health` never builds one)."""
    return AwsClients(before_first_client=lambda: tracer.patch(("botocore",)))


@cache
def ports() -> AwsPorts:
    return AwsPorts.deferred(settings(), clients())


@cache
def services() -> Services:
    return build_services(ports(), settings(), PowertoolsMetrics(metrics))


def serve_route(router: Router) -> Handler:
    """A Lambda handler serving `router`'s routes (API Gateway maps one route to it)."""
    api = Api([router])

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return api.handle(event, context, services())

    return handler
