"""Executor: where commands run. A VPC with two public subnets and no NAT gateway, an
egress-only security group, the ECS cluster, and two Fargate (ARM64) task definitions whose
containers write to a log group through the awslogs driver: one for plain commands, and one
for commands with an upload, where a `fetch` container copies the archive from the
CodeBucket (with the task role, read-only on uploads/) and an `unpack` container unpacks it
safely into the command's working directory before the command starts."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from orchestrator import unpack
from orchestrator.adapters.aws.task_layout import (
    ARCHIVE_PATH,
    COMMAND_CONTAINER,
    PREPARE_CONTAINER,
    UNPACK_CONTAINER,
    UPLOADS_PREFIX,
    WORK_DIR,
    WORKSPACE,
    prepare_script,
)
from stacks.config import PlatformConfig

CONTAINER_NAME = COMMAND_CONTAINER
LOG_STREAM_PREFIX = "exec"
WORKSPACE_VOLUME = "workspace"
PLACEHOLDER_COMMAND = ["sh", "-c", "echo 'mycli runs a command given at launch'"]


class Executor(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PlatformConfig,
        code_bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self._code_bucket = code_bucket
        self.vpc = self._build_vpc()
        self.security_group = self._build_security_group()
        self.cluster = self._build_cluster()
        self.log_group = self._build_log_group()
        self.env_key = self._build_env_key()
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

    def _build_cluster(self) -> ecs.Cluster:
        return ecs.Cluster(
            self,
            "Cluster",
            vpc=self.vpc,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
        )

    def _build_log_group(self) -> logs.LogGroup:
        return logs.LogGroup(
            self,
            "ExecutionLogs",
            retention=self._config.log_retention,
            removal_policy=RemovalPolicy.DESTROY,
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

    def _build_task_role(self) -> iam.Role:
        # What a task may do in AWS: read uploads and unseal its env (the prepare step),
        # nothing else unless an admin grants it here.
        role = iam.Role(
            self,
            "TaskRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="Role of mycli tasks: reads uploads, unseals env, nothing more by default",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[self._code_bucket.arn_for_objects(f"{UPLOADS_PREFIX}*")],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(actions=["kms:Decrypt"], resources=[self.env_key.key_arn])
        )
        return role

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

    def _build_prepared_task_definition(self) -> ecs.FargateTaskDefinition:
        task_definition = self._task_definition("PreparedTaskDefinition")
        task_definition.add_volume(name=WORKSPACE_VOLUME)
        mount = ecs.MountPoint(
            container_path=WORKSPACE, source_volume=WORKSPACE_VOLUME, read_only=False
        )
        prepare = task_definition.add_container(
            PREPARE_CONTAINER,
            container_name=PREPARE_CONTAINER,
            image=ecs.ContainerImage.from_registry(self._config.prepare_image),
            essential=False,
            entry_point=["sh", "-c"],
            command=[prepare_script(self._code_bucket.bucket_name)],
            logging=self._logging(),
        )
        unpacker = task_definition.add_container(
            UNPACK_CONTAINER,
            container_name=UNPACK_CONTAINER,
            image=ecs.ContainerImage.from_registry(self._config.unpack_image),
            essential=False,
            entry_point=["python3", "-c", Path(unpack.__file__).read_text()],
            command=[ARCHIVE_PATH, WORK_DIR],
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
        for container in (prepare, unpacker, command):
            container.add_mount_points(mount)
        unpacker.add_container_dependencies(
            ecs.ContainerDependency(
                container=prepare, condition=ecs.ContainerDependencyCondition.SUCCESS
            )
        )
        command.add_container_dependencies(
            ecs.ContainerDependency(
                container=unpacker, condition=ecs.ContainerDependencyCondition.SUCCESS
            )
        )
        return task_definition
