"""Executor: where commands run. A VPC with two public subnets and no NAT gateway, an
egress-only security group, ECS's service-linked role (created if the account has none),
the ECS cluster, the operators' log group, and the run's Fargate (ARM64) task definition
(stacks/run_task.py: the run agent and the command). The task role grants nothing by
default: the agent uses presigned URLs and a per-execution KMS grant."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from stacks.config import PlatformConfig
from stacks.run_task import RunTaskDefinition

# The id CDK gives AwsCustomResource's singleton provider function.
CUSTOM_RESOURCE_PROVIDER = "AWS679f53fac002430cb0da5b7982bd2287"


class Executor(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PlatformConfig,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self.vpc = self._build_vpc()
        self.security_group = self._build_security_group()
        self.service_linked_role = self._build_service_linked_role()
        self.cluster = self._build_cluster()
        self.cluster.node.add_dependency(self.service_linked_role)
        self.log_group = self._build_log_group()
        self.env_key = self._build_env_key()
        self.secrets_key = self._build_secrets_key()
        self.task_role = self._build_task_role()
        self.execution_role = self._build_execution_role()
        self.run_task = RunTaskDefinition(
            self,
            "Run",
            config=config,
            task_role=self.task_role,
            execution_role=self.execution_role,
            log_group=self.log_group,
        )
        self.task_definition = self.run_task.task_definition

    @property
    def subnet_ids(self) -> list[str]:
        return [subnet.subnet_id for subnet in self.vpc.public_subnets]

    @property
    def ecr_repository_arn_prefix(self) -> str:
        """The ECR repositories tasks may pull from (mycli:ecrRepositoryPrefix), as an ARN
        prefix: `arn:<partition>:ecr:<region>:<account>:repository/<prefix>`."""
        return Stack.of(self).format_arn(
            service="ecr",
            resource="repository",
            resource_name=self._config.ecr_repository_prefix,
        )

    @property
    def task_arn_pattern(self) -> str:
        """Every task of this cluster (task ids exist only once a task runs)."""
        return Stack.of(self).format_arn(
            service="ecs", resource="task", resource_name=f"{self.cluster.cluster_name}/*"
        )

    def _build_vpc(self) -> ec2.Vpc:
        vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC)
            ],
        )
        flow_logs = logs.LogGroup(
            self,
            "FlowLogs",
            retention=self._config.log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        vpc.add_flow_log(
            "FlowLog", destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs)
        )
        return vpc

    def _build_security_group(self) -> ec2.SecurityGroup:
        return ec2.SecurityGroup(
            self,
            "TaskSecurityGroup",
            vpc=self.vpc,
            description="mycli executor tasks: outbound only",
            allow_all_outbound=True,
        )

    def _build_service_linked_role(self) -> cr.AwsCustomResource:
        """ECS's service-linked role, which Container Insights and Fargate need: created on a
        fresh account, left alone where it exists (and never deleted: other stacks use it)."""
        stack = Stack.of(self)
        role_arn = (
            f"arn:{stack.partition}:iam::{stack.account}:role/aws-service-role/"
            "ecs.amazonaws.com/AWSServiceRoleForECS"
        )
        resource = cr.AwsCustomResource(
            self,
            "EcsServiceLinkedRole",
            on_create=cr.AwsSdkCall(
                service="IAM",
                action="createServiceLinkedRole",
                parameters={"AWSServiceName": "ecs.amazonaws.com"},
                physical_resource_id=cr.PhysicalResourceId.of("AWSServiceRoleForECS"),
                # "Service role name AWSServiceRoleForECS has been taken": it exists already.
                ignore_error_codes_matching="InvalidInput",
            ),
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(
                        actions=["iam:CreateServiceLinkedRole"],
                        resources=[role_arn],
                        conditions={"StringEquals": {"iam:AWSServiceName": "ecs.amazonaws.com"}},
                    )
                ]
            ),
            install_latest_aws_sdk=False,
            log_group=logs.LogGroup(
                self,
                "ServiceLinkedRoleLogs",
                retention=self._config.log_retention,
                removal_policy=RemovalPolicy.DESTROY,
            ),
        )
        provider = stack.node.try_find_child(CUSTOM_RESOURCE_PROVIDER)
        if provider is not None:
            Validations.of(provider).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                    "service-role/AWSLambdaBasicExecutionRole]",
                    reason="CDK's AwsCustomResource provider (creates ECS's service-linked "
                    "role once) writes its logs with this managed policy.",
                )
            )
        return resource

    def _build_cluster(self) -> ecs.Cluster:
        return ecs.Cluster(
            self,
            "Cluster",
            vpc=self.vpc,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
        )

    def _build_log_group(self) -> logs.ILogGroup:
        """The operators' copy of what runs log (the agent's lines; the run's output is in
        S3): kept with the records (retainData), reattached by name."""
        if self._config.existing_execution_log_group:
            return logs.LogGroup.from_log_group_name(
                self, "ExecutionLogs", self._config.existing_execution_log_group
            )
        return logs.LogGroup(
            self,
            "ExecutionLogs",
            retention=self._config.log_retention,
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
            if self._config.retain_data
            else RemovalPolicy.DESTROY,
        )

    def _build_env_key(self) -> kms.Key:
        return kms.Key(
            self,
            "EnvKey",
            description="mycli: seals execution env values on their way to ECS tasks",
            enable_key_rotation=True,
            pending_window=Duration.days(7),
            removal_policy=RemovalPolicy.DESTROY,
        )

    def _build_secrets_key(self) -> kms.Key:
        """Encrypts the stored secrets (SSM SecureString parameters); used only through SSM."""
        return kms.Key(
            self,
            "SecretsKey",
            description="mycli: encrypts stored secrets (SSM SecureString parameters)",
            enable_key_rotation=True,
            pending_window=Duration.days(7),
            removal_policy=RemovalPolicy.DESTROY,
        )

    def _build_task_role(self) -> iam.Role:
        # Every container of a task holds this role (ECS has no per-container roles), the
        # user's command included: so it grants nothing. The run agent reads this run's
        # inputs and writes its output through presigned URLs, and unseals its env through
        # a per-execution KMS grant (made by the create function, retired by the agent).
        # An admin may grant commands more here.
        return iam.Role(
            self,
            "TaskRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="Role of mycli tasks: grants nothing by default",
        )

    def _build_execution_role(self) -> iam.Role:
        # ECS's own role: pull the images (the agent's from the CDK assets repository, a
        # grant CDK adds; images' from this account's repositories under the prefix), write
        # the containers' logs.
        role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="ECS pulls mycli task images and writes their logs with this role",
        )
        # ECR authorizes its login on "*" only; the pulls are scoped to the repositories.
        role.add_to_policy(
            iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"])
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchGetImage",
                ],
                resources=[f"{self.ecr_repository_arn_prefix}*"],
            )
        )
        return role
