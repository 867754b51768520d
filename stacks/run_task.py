"""The run's task definition: one for every run (each image gets a clone of it with its own
command image). Two containers share the workspace volume (see orchestrator.agent.layout):

- the run agent (essential; an image CDK builds from lambda_src/agent_image/Dockerfile and
  publishes to the account's ECR as an asset): reads the run's manifest, sets the run up,
  stores its output in S3 and reports its result; its exit ends the task;
- the command (not essential; the executor image, or the registered image's), which runs
  orchestrator/agent/command_entry.sh: waits for the agent's go, then runs the command.

Both log through the awslogs driver in blocking mode, set explicitly: the operators' copy in
CloudWatch never drops a line (the non-blocking default may). It holds only the agent's own
one-line messages and the command container's stderr before its redirect; the run's output
goes to S3, through the agent."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from orchestrator.agent import layout
from stacks.config import PlatformConfig

LAMBDA_SOURCE = Path(__file__).resolve().parents[1] / "lambda_src"
# The agent image's build context is lambda_src/ (the orchestrator package), its Dockerfile
# and pinned requirements in agent_image/ (which the Lambda asset leaves out).
AGENT_IMAGE_DIRECTORY = LAMBDA_SOURCE
AGENT_DOCKERFILE = "agent_image/Dockerfile"
AGENT_IMAGE_EXCLUDES = ("**/__pycache__", "**/*.pyc", "orchestrator/console")
# The command container's program: CDK reads it at synth (no shell kept in a Python string).
COMMAND_ENTRY = LAMBDA_SOURCE / "orchestrator" / "agent" / "command_entry.sh"
# After ECS's SIGTERM (StopTask: cancel, timeout), the agent waits for the command's exit,
# drains its output and writes the result before ECS's SIGKILL.
AGENT_STOP_TIMEOUT = Duration.seconds(30)
LOG_STREAM_PREFIX = "exec"
WORKSPACE_VOLUME = "workspace"


class RunTaskDefinition(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PlatformConfig,
        task_role: iam.IRole,
        execution_role: iam.IRole,
        log_group: logs.ILogGroup,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self._log_group = log_group
        self.task_definition = self._build_task_definition(task_role, execution_role)
        self.agent = self._build_agent()
        self.command = self._build_command()

    def _build_task_definition(
        self, task_role: iam.IRole, execution_role: iam.IRole
    ) -> ecs.FargateTaskDefinition:
        task_definition = ecs.FargateTaskDefinition(
            self,
            "TaskDefinition",
            cpu=self._config.task_cpu,
            memory_limit_mib=self._config.task_memory_mib,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.ARM64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
            task_role=task_role,
            execution_role=execution_role,
        )
        task_definition.add_volume(name=WORKSPACE_VOLUME)
        Validations.of(task_definition).acknowledge(
            Acknowledgment(
                id="AwsSolutions-ECS2",
                reason="The agent's environment holds only the workspace path and the unpack "
                "limits; a run's values arrive sealed in its manifest, never in the task.",
            )
        )
        return task_definition

    def _logging(self) -> ecs.LogDriver:
        return ecs.LogDrivers.aws_logs(
            stream_prefix=LOG_STREAM_PREFIX,
            log_group=self._log_group,
            mode=ecs.AwsLogDriverMode.BLOCKING,
        )

    def _mount(self, container: ecs.ContainerDefinition) -> ecs.ContainerDefinition:
        container.add_mount_points(
            ecs.MountPoint(
                container_path=layout.WORKSPACE, source_volume=WORKSPACE_VOLUME, read_only=False
            )
        )
        return container

    def _build_agent(self) -> ecs.ContainerDefinition:
        image = ecs.ContainerImage.from_asset(
            str(AGENT_IMAGE_DIRECTORY),
            file=AGENT_DOCKERFILE,
            exclude=list(AGENT_IMAGE_EXCLUDES),
            platform=ecr_assets.Platform.LINUX_ARM64,
        )
        return self._mount(
            self.task_definition.add_container(
                layout.AGENT_CONTAINER,
                container_name=layout.AGENT_CONTAINER,
                image=image,
                essential=True,
                environment={
                    layout.WORKSPACE_VARIABLE: layout.WORKSPACE,
                    layout.MAX_UNPACKED_MIB_VARIABLE: str(self._config.max_unpacked_mib),
                    layout.MAX_UPLOAD_ENTRIES_VARIABLE: str(self._config.max_upload_entries),
                },
                stop_timeout=AGENT_STOP_TIMEOUT,
                logging=self._logging(),
            )
        )

    def _build_command(self) -> ecs.ContainerDefinition:
        command = self._mount(
            self.task_definition.add_container(
                layout.COMMAND_CONTAINER,
                container_name=layout.COMMAND_CONTAINER,
                image=ecs.ContainerImage.from_registry(self._config.executor_image),
                essential=False,
                # The entry point is set too: an image's own ENTRYPOINT (the aws-cli
                # image's is ["aws"]) would otherwise get this as its arguments.
                entry_point=["sh", "-c"],
                command=[COMMAND_ENTRY.read_text()],
                logging=self._logging(),
            )
        )
        # The agent runs for the whole task: the command never waits on a container that
        # has exited (older ECS agents force-stop a container whose START dependency ended).
        command.add_container_dependencies(
            ecs.ContainerDependency(
                container=self.agent, condition=ecs.ContainerDependencyCondition.START
            )
        )
        return command
