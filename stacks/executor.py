"""Executor: where commands run. A VPC with two public subnets and no NAT gateway, an
egress-only security group, the ECS cluster and the Fargate (ARM64) task definition whose
container writes to a log group through the awslogs driver."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.config import PlatformConfig

CONTAINER_NAME = "command"
LOG_STREAM_PREFIX = "exec"


class Executor(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: PlatformConfig) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self.vpc = self._build_vpc()
        self.security_group = self._build_security_group()
        self.cluster = self._build_cluster()
        self.log_group = self._build_log_group()
        self.task_role = self._build_task_role()
        self.task_definition = self._build_task_definition()

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

    def _build_task_role(self) -> iam.Role:
        # What the user's command may do in AWS: nothing unless an admin grants it here.
        return iam.Role(
            self,
            "TaskRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="Role of mycli commands; grants nothing by default",
        )

    def _build_task_definition(self) -> ecs.FargateTaskDefinition:
        task_definition = ecs.FargateTaskDefinition(
            self,
            "TaskDefinition",
            cpu=self._config.task_cpu,
            memory_limit_mib=self._config.task_memory_mib,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.ARM64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
            task_role=self.task_role,
        )
        task_definition.add_container(
            CONTAINER_NAME,
            container_name=CONTAINER_NAME,
            image=ecs.ContainerImage.from_registry(self._config.executor_image),
            essential=True,
            command=["sh", "-c", "echo 'mycli runs a command given at launch'"],
            logging=ecs.LogDrivers.aws_logs(
                stream_prefix=LOG_STREAM_PREFIX, log_group=self.log_group
            ),
        )
        return task_definition

    @property
    def execution_role(self) -> iam.IRole:
        role = self.task_definition.execution_role
        assert role is not None
        return role
