"""API: a REST API (stage `prod`) with access logs, throttling and a request validator, an
explicit resource and method for every route, each integrated with its own function."""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import Acknowledgment, RemovalPolicy, Validations
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_logs as logs
from constructs import Construct

from orchestrator.handlers.catalog import CONSOLE_ROUTES, ROUTES
from stacks.config import PlatformConfig
from stacks.functions import PythonFunction

# API Gateway's own errors (no route, throttled, integration failure) in the API's error shape.
GATEWAY_ERROR_TEMPLATE = (
    '{"error": {"code": "%s", "message": $context.error.messageString, "details": {}}}'
)


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
        self.access_logs = logs.LogGroup(
            self, "AccessLogs", retention=config.log_retention, removal_policy=RemovalPolicy.DESTROY
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
        return apigateway.RestApi(
            self,
            "Api",
            rest_api_name="mycli",
            description="mycli: run commands on ECS Fargate with recorded runs and named locks",
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            deploy_options=apigateway.StageOptions(
                stage_name="prod",
                throttling_rate_limit=self._config.api_rate_limit,
                throttling_burst_limit=self._config.api_burst_limit,
                access_log_destination=apigateway.LogGroupLogDestination(self.access_logs),
                access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),
                logging_level=apigateway.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # bodies carry env values and new API keys
                metrics_enabled=True,
                tracing_enabled=True,
            ),
        )

    def _build_gateway_responses(self) -> None:
        for name, response_type, code in (
            ("Default4xx", apigateway.ResponseType.DEFAULT_4_XX, "gateway_error"),
            ("Default5xx", apigateway.ResponseType.DEFAULT_5_XX, "gateway_error"),
            ("Throttled", apigateway.ResponseType.THROTTLED, "throttled"),
        ):
            self.api.add_gateway_response(
                name,
                type=response_type,
                templates={"application/json": GATEWAY_ERROR_TEMPLATE % code},
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
        resource.add_method(
            method,
            apigateway.LambdaIntegration(function.function, proxy=True),
            request_validator=self.validator,
            operation_name=module,
        )
        return function

    def _build_console(self, make_function: Callable[[str, str], PythonFunction]) -> PythonFunction:
        """The web console's files: GET /ui and /ui/{proxy+}, one function, no API key."""
        function = make_function("console", "GET /ui/... (the web console's files)")
        for route in CONSOLE_ROUTES:
            self.api.root.resource_for_path(route.path).add_method(
                route.method,
                apigateway.LambdaIntegration(function.function, proxy=True),
                request_validator=self.validator,
                operation_name="console",
            )
        return function

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
        Validations.of(self.api).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs]",
                reason="API Gateway's account-level logging role needs this AWS-managed policy.",
            )
        )
