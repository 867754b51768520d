"""One Lambda function: Python 3.12 on ARM64 with Powertools from the public layer, its own
role (nothing granted but writing its own logs), its own log group, JSON logs, X-Ray."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.config import PlatformConfig

# API Gateway gives up on an integration after 29 s.
API_TIMEOUT = Duration.seconds(29)


class PythonFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: str,
        description: str,
        code: lambda_.Code,
        layers: list[lambda_.ILayerVersion],
        environment: dict[str, str],
        config: PlatformConfig,
        timeout: Duration | None = None,
        retry_attempts: int | None = 0,
        role: iam.Role | None = None,
        function_name: str | None = None,
    ) -> None:
        """`retry_attempts` of asynchronous invocations; None leaves them to the caller
        (configure_async_invoke). `role`: one made beforehand (another role trusts it), else
        its own; `function_name`: a fixed name (another function invokes it by name)."""
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self, "Logs", retention=config.log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        self.role = role or iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"mycli {construct_id}: {description}",
        )
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.ARM_64,
            handler=handler,
            function_name=function_name,
            code=code,
            layers=layers,
            role=self.role,
            description=description,
            environment=environment,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            tracing=lambda_.Tracing.ACTIVE,
            memory_size=512,
            timeout=timeout or API_TIMEOUT,
            retry_attempts=retry_attempts,
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )

    def allow(self, actions: list[str], resources: list[str], **conditions: object) -> None:
        statement = iam.PolicyStatement(actions=actions, resources=resources)
        for operator, values in conditions.items():
            statement.add_condition(operator, values)
        self.role.add_to_policy(statement)
