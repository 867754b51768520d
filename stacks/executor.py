"""Executor: where commands run. A VPC with two public subnets and no NAT gateway, an
egress-only security group, ECS's service-linked role (created if the account has none),
the ECS cluster, and two Fargate (ARM64) task definitions whose containers write to a log
group through the awslogs driver: one for plain commands, and the prepared one, whose
fetch, prepare, clone and unpack steps set the run up before the command starts (see
orchestrator.adapters.aws.task_layout). The task role grants nothing by default: the steps
use presigned URLs and a per-execution KMS grant."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from orchestrator import masking, unpack
from orchestrator.adapters.aws import fetch_inputs
from orchestrator.adapters.aws.task_layout import (
    CLONE_CONTAINER,
    COMMAND_CONTAINER,
    FETCH_CONTAINER,
    GIT_FILES,
    GIT_SCRATCH,
    MASK_CONTAINER,
    MASK_VALUES_FILE,
    MASKED_FILE,
    OUTPUT_FIFO,
    PREPARE_CONTAINER,
    UNPACK_CONTAINER,
    UNPACK_ENTRY_POINT,
    WORK_DIR,
    WORKSPACE,
    prepare_script,
    unpack_command,
)
from orchestrator.git_checkout import CHECKOUT_SCRIPT
from stacks.config import PlatformConfig

CONTAINER_NAME = COMMAND_CONTAINER
LOG_STREAM_PREFIX = "exec"
WORKSPACE_VOLUME = "workspace"
# The id CDK gives AwsCustomResource's singleton provider function.
CUSTOM_RESOURCE_PROVIDER = "AWS679f53fac002430cb0da5b7982bd2287"
PLACEHOLDER_COMMAND = ["sh", "-c", "echo 'mycli runs a command given at launch'"]


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
        self.task_definition = self._build_task_definition()
        self.prepared_task_definition = self._build_prepared_task_definition()

    @property
    def subnet_ids(self) -> list[str]:
        return [subnet.subnet_id for subnet in self.vpc.public_subnets]

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
        """Commands' output: kept with the records (retainData), reattached by name."""
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
        # user's command included: so it grants nothing. The setup steps read this run's
        # inputs through presigned URLs and unseal its env through a per-execution KMS
        # grant (made by the create function, retired by the prepare step). An admin may
        # grant commands more here.
        return iam.Role(
            self,
            "TaskRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="Role of mycli tasks: grants nothing by default",
        )

    def _build_execution_role(self) -> iam.Role:
        # ECS's own role for both task definitions: pull images, write their logs.
        return iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="ECS pulls mycli task images and writes their logs with this role",
        )

    def _task_definition(self, construct_id: str) -> ecs.FargateTaskDefinition:
        return ecs.FargateTaskDefinition(
            self,
            construct_id,
            cpu=self._config.task_cpu,
            memory_limit_mib=self._config.task_memory_mib,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.ARM64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
            task_role=self.task_role,
            execution_role=self.execution_role,
        )

    def _logging(self) -> ecs.LogDriver:
        return ecs.LogDrivers.aws_logs(stream_prefix=LOG_STREAM_PREFIX, log_group=self.log_group)

    def _build_task_definition(self) -> ecs.FargateTaskDefinition:
        task_definition = self._task_definition("TaskDefinition")
        task_definition.add_container(
            CONTAINER_NAME,
            container_name=CONTAINER_NAME,
            image=ecs.ContainerImage.from_registry(self._config.executor_image),
            essential=True,
            command=PLACEHOLDER_COMMAND,
            logging=self._logging(),
        )
        return task_definition

    def _unpack_limits(self) -> unpack.Limits:
        return unpack.Limits(self._config.max_unpacked_mib, self._config.max_upload_entries)

    def _build_prepared_task_definition(self) -> ecs.FargateTaskDefinition:
        task_definition = self._task_definition("PreparedTaskDefinition")
        task_definition.add_volume(name=WORKSPACE_VOLUME)
        mount = ecs.MountPoint(
            container_path=WORKSPACE, source_volume=WORKSPACE_VOLUME, read_only=False
        )
        fetch = task_definition.add_container(
            FETCH_CONTAINER,
            container_name=FETCH_CONTAINER,
            image=ecs.ContainerImage.from_registry(self._config.unpack_image),
            essential=False,
            entry_point=["python3", "-c", Path(fetch_inputs.__file__).read_text()],
            command=[WORKSPACE],
            logging=self._logging(),
        )
        prepare = task_definition.add_container(
            PREPARE_CONTAINER,
            container_name=PREPARE_CONTAINER,
            image=ecs.ContainerImage.from_registry(self._config.prepare_image),
            essential=False,
            entry_point=["sh", "-c"],
            command=[prepare_script()],
            logging=self._logging(),
        )
        clone = task_definition.add_container(
            CLONE_CONTAINER,
            container_name=CLONE_CONTAINER,
            image=ecs.ContainerImage.from_registry(self._config.git_image),
            essential=False,
            entry_point=["sh", "-c"],
            command=[CHECKOUT_SCRIPT, CLONE_CONTAINER, GIT_FILES, WORK_DIR, GIT_SCRATCH],
            logging=self._logging(),
        )
        unpacker = task_definition.add_container(
            UNPACK_CONTAINER,
            container_name=UNPACK_CONTAINER,
            image=ecs.ContainerImage.from_registry(self._config.unpack_image),
            essential=False,
            entry_point=[*UNPACK_ENTRY_POINT, Path(unpack.__file__).read_text()],
            command=unpack_command(self._unpack_limits()),
            logging=self._logging(),
        )
        command = task_definition.add_container(
            CONTAINER_NAME,
            container_name=CONTAINER_NAME,
            image=ecs.ContainerImage.from_registry(self._config.executor_image),
            essential=True,
            command=PLACEHOLDER_COMMAND,
            working_directory=WORK_DIR,
            logging=self._logging(),
        )
        # Runs with secrets: reads the command's output from a FIFO, writes it masked.
        mask = task_definition.add_container(
            MASK_CONTAINER,
            container_name=MASK_CONTAINER,
            image=ecs.ContainerImage.from_registry(self._config.unpack_image),
            essential=False,
            entry_point=["python3", "-c", Path(masking.__file__).read_text()],
            command=[MASK_VALUES_FILE, OUTPUT_FIFO, MASKED_FILE],
            logging=self._logging(),
        )
        for container in (fetch, prepare, clone, unpacker, mask, command):
            container.add_mount_points(mount)
        mask.add_container_dependencies(
            ecs.ContainerDependency(
                container=prepare, condition=ecs.ContainerDependencyCondition.SUCCESS
            )
        )
        command.add_container_dependencies(
            ecs.ContainerDependency(
                container=mask, condition=ecs.ContainerDependencyCondition.START
            )
        )
        prepare.add_container_dependencies(
            ecs.ContainerDependency(
                container=fetch, condition=ecs.ContainerDependencyCondition.SUCCESS
            )
        )
        clone.add_container_dependencies(
            ecs.ContainerDependency(
                container=prepare, condition=ecs.ContainerDependencyCondition.SUCCESS
            )
        )
        unpacker.add_container_dependencies(
            ecs.ContainerDependency(
                container=clone, condition=ecs.ContainerDependencyCondition.SUCCESS
            )
        )
        command.add_container_dependencies(
            ecs.ContainerDependency(
                container=unpacker, condition=ecs.ContainerDependencyCondition.SUCCESS
            )
        )
        return task_definition
