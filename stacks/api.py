"""API: a REST API (stage `prod`) with throttling and a request validator that checks each
route's parameters and JSON body against the API's own OpenAPI document, an explicit
resource and method for every route, each integrated with its own function.

API Gateway can log to CloudWatch only through one account-wide role per region, so logs
are an explicit choice (`mycli:apiLogging`): off, through the role the account already has,
or through a role this stack sets (replacing any other in the region)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aws_cdk import Acknowledgment, RemovalPolicy, Validations
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_logs as logs
from constructs import Construct

from orchestrator.console import SECURITY_HEADERS
from orchestrator.handlers.catalog import CONSOLE_ROUTES, ROUTES
from stacks.config import PlatformConfig
from stacks.functions import PythonFunction

OPENAPI_DOCUMENT = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"
JSON_SCHEMA_DRAFT_4 = "http://json-schema.org/draft-04/schema#"
# API Gateway's own errors (no route, throttled, integration failure) in the API's error shape.
GATEWAY_ERROR_TEMPLATE = (
    '{"error": {"code": "%s", "message": $context.error.messageString, "details": {}}}'
)
# ...with the headers every answer carries (api/headers.py), console paths included: a
# gateway response cannot tell paths apart, so each carries the console's set. A static
# gateway header value is quoted in single quotes and cannot hold the console policy's own
# quotes; `sandbox` stands in for it (such a body can run nothing, and is never framed).
GATEWAY_HEADERS = {**SECURITY_HEADERS, "Content-Security-Policy": "sandbox"}


class RestApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PlatformConfig,
        make_function: Callable[[str, str], PythonFunction],
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self._logging = config.api_logging != "off"
        self._openapi = json.loads(OPENAPI_DOCUMENT.read_text())
        self.access_logs = (
            logs.LogGroup(
                self,
                "AccessLogs",
                retention=config.log_retention,
                removal_policy=RemovalPolicy.DESTROY,
            )
            if self._logging
            else None
        )
        self.api = self._build_api()
        self.validator = self.api.add_request_validator(
            "Validator", validate_request_body=True, validate_request_parameters=True
        )
        self._build_gateway_responses()
        self.functions = {
            route.module: self._build_route(route.method, route.path, route.module, make_function)
            for route in ROUTES
        }
        self.functions["console"] = self._build_console(make_function)
        self._acknowledge()

    @property
    def url(self) -> str:
        return self.api.url

    def _build_api(self) -> apigateway.RestApi:
        logged: dict[str, Any] = {}
        if self.access_logs is not None:
            logged = {
                "access_log_destination": apigateway.LogGroupLogDestination(self.access_logs),
                "access_log_format": self._access_log_format(),
                "logging_level": apigateway.MethodLoggingLevel.ERROR,
            }
        return apigateway.RestApi(
            self,
            "Api",
            rest_api_name="mycli",
            description="mycli: run commands on ECS Fargate with recorded runs and named locks",
            cloud_watch_role=self._config.api_logging == "create-role",
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN
            if self._config.api_logging == "create-role"
            else None,
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            # The logs route's binary page: Lambda returns it base64-flagged, and API Gateway
            # sends it as bytes when the request's Accept names this type.
            binary_media_types=["application/octet-stream"],
            deploy_options=apigateway.StageOptions(
                stage_name="prod",
                throttling_rate_limit=self._config.api_rate_limit,
                throttling_burst_limit=self._config.api_burst_limit,
                data_trace_enabled=False,  # bodies carry env values and new API keys
                metrics_enabled=True,
                tracing_enabled=True,
                **logged,
            ),
        )

    @staticmethod
    def _access_log_format() -> apigateway.AccessLogFormat:
        return apigateway.AccessLogFormat.json_with_standard_fields(
            caller=False,
            http_method=True,
            ip=True,
            protocol=True,
            request_time=True,
            resource_path=True,
            response_length=True,
            status=True,
            user=False,
        )

    def _build_gateway_responses(self) -> None:
        # The stage's own throttling answers like the functions' (api/errors.py): a second.
        retry_after = {"Retry-After": "1"}
        for name, response_type, code, extra in (
            ("Default4xx", apigateway.ResponseType.DEFAULT_4_XX, "gateway_error", {}),
            ("Default5xx", apigateway.ResponseType.DEFAULT_5_XX, "gateway_error", {}),
            ("Throttled", apigateway.ResponseType.THROTTLED, "throttled", retry_after),
            ("BadBody", apigateway.ResponseType.BAD_REQUEST_BODY, "validation_error", {}),
            (
                "BadParameters",
                apigateway.ResponseType.BAD_REQUEST_PARAMETERS,
                "validation_error",
                {},
            ),
        ):
            headers = {**GATEWAY_HEADERS, **extra}
            self.api.add_gateway_response(
                name,
                type=response_type,
                templates={"application/json": GATEWAY_ERROR_TEMPLATE % code},
                response_headers={name: f"'{value}'" for name, value in headers.items()},
            )

    def _build_route(
        self,
        method: str,
        path: str,
        module: str,
        make_function: Callable[[str, str], PythonFunction],
    ) -> PythonFunction:
        function = make_function(module, f"{method} {path}")
        resource = self.api.root.resource_for_path(path)
        operation = self._openapi["paths"][path][method.lower()]
        resource.add_method(
            method,
            # No permission for the console's test-invoke stage: one per route, not two (the
            # template stays well under CloudFormation's resource limit).
            apigateway.LambdaIntegration(function.function, proxy=True, allow_test_invoke=False),
            request_validator=self.validator,
            operation_name=module,
            request_parameters={
                f"method.request.{'path' if p['in'] == 'path' else 'querystring'}.{p['name']}": (
                    bool(p.get("required"))
                )
                for p in operation.get("parameters", [])
                if p["in"] in ("path", "query")
            },
            request_models=self._body_model(module, operation) or None,
        )
        return function

    def _build_console(self, make_function: Callable[[str, str], PythonFunction]) -> PythonFunction:
        """The web console's files: GET /ui and /ui/{proxy+}, one function, no API key."""
        function = make_function("console", "GET /ui/... (the web console's files)")
        for route in CONSOLE_ROUTES:
            self.api.root.resource_for_path(route.path).add_method(
                route.method,
                apigateway.LambdaIntegration(
                    function.function, proxy=True, allow_test_invoke=False
                ),
                request_validator=self.validator,
                operation_name="console",
            )
        return function

    def _body_model(self, module: str, operation: dict[str, Any]) -> dict[str, apigateway.IModel]:
        """The operation's JSON body schema from the OpenAPI document, as a draft-4 model."""
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if not body:
            return {}
        schema = self._inline(body["schema"])
        name = "".join(part.title() for part in module.split("_")) + "Body"
        model = self.api.add_model(
            name,
            model_name=name,
            content_type="application/json",
            schema=apigateway.JsonSchema(schema=apigateway.JsonSchemaVersion.DRAFT4),
        )
        # JsonSchema cannot hold every keyword: set the converted document directly.
        cfn_model = model.node.default_child
        assert isinstance(cfn_model, apigateway.CfnModel)
        cfn_model.schema = {"$schema": JSON_SCHEMA_DRAFT_4, **schema}
        return {"application/json": model}

    def _inline(self, schema: Any) -> Any:
        """`schema` with every `$ref` to the document's components replaced by its target."""
        if isinstance(schema, list):
            return [self._inline(item) for item in schema]
        if not isinstance(schema, dict):
            return schema
        if "$ref" in schema:
            target = self._openapi["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
            siblings = {k: v for k, v in schema.items() if k != "$ref"}
            return {**self._inline(target), **siblings}
        return {key: self._inline(value) for key, value in schema.items()}

    def _acknowledge(self) -> None:
        for rule, reason in (
            (
                "AwsSolutions-APIG4",
                "Every route but /health and the console's static files (/ui) authenticates "
                "the caller's mycli API key in its function, against DynamoDB, so a revoked key "
                "fails on its very next request.",
            ),
            (
                "AwsSolutions-COG4",
                "Callers use personal mycli API keys, not Cognito identities (see APIG4).",
            ),
            (
                "AwsSolutions-APIG3",
                "Stage throttling bounds abuse; a WAF web ACL is left to the operator, who "
                "can associate one with the prod stage without changing this stack.",
            ),
        ):
            Validations.of(self.api).acknowledge(Acknowledgment(id=rule, reason=reason))
        if self._config.api_logging == "create-role":
            Validations.of(self.api).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                    "service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
                    reason="API Gateway's account-level logging role needs this managed policy.",
                )
            )
        if not self._logging:
            for rule in ("AwsSolutions-APIG1", "AwsSolutions-APIG6"):
                Validations.of(self.api).acknowledge(
                    Acknowledgment(
                        id=rule,
                        reason="API Gateway logs need an account-wide CloudWatch role, which "
                        "this stack sets only when asked (mycli:apiLogging); every function "
                        "logs each request itself.",
                    )
                )
