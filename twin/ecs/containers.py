"""A task's container as the stand-in tracks it: status, exit code and reason (the fields of
an ECS container record), and how its dependency conditions stand."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from twin.ecs.events import PENDING, RUNNING, STOPPED, without_none
from twin.ecs.process import ContainerProcess
from twin.ecs.task_definition import COMPLETE, START, SUCCESS, ContainerDefinition, Dependency

# The ECS agent stops a container whose dependencies can never be met with this exit code
# (the one SIGTERM gives) and a CannotStartContainerError reason (amazon-ecs-agent#3218).
DEPENDENCY_FAILED_EXIT_CODE = 143


@dataclass
class ContainerState:
    definition: ContainerDefinition
    arn: str
    status: str = PENDING
    started: bool = False
    exit_code: int | None = None
    reason: str | None = None
    process: ContainerProcess | None = None
    signalled_at: float | None = None  # monotonic time of the SIGTERM
    killed: bool = False

    @property
    def name(self) -> str:
        return self.definition.name

    def record(self, task_arn: str) -> dict[str, Any]:
        """The container as ECS describes it."""
        return without_none(
            {
                "containerArn": self.arn,
                "taskArn": task_arn,
                "name": self.name,
                "image": self.definition.image,
                "lastStatus": self.status,
                "exitCode": self.exit_code,
                "reason": self.reason,
                "runtimeId": f"twin-{self.process.pid}" if self.process else None,
                "networkInterfaces": [],
            }
        )

    def stopped(self, exit_code: int | None, reason: str | None = None) -> None:
        self.status = STOPPED
        self.exit_code = exit_code
        self.reason = reason


def dependency_met(dependency: Dependency, target: ContainerState) -> bool | None:
    """True once `target` meets the condition, False when it never can, None meanwhile.

    START: the dependency has started, or has already stopped (amazon-ecs-agent#3927).
    COMPLETE: it has stopped with an exit code. SUCCESS: it has stopped with exit code 0."""
    if dependency.condition == START:
        return True if target.status in (RUNNING, STOPPED) else None
    if target.status != STOPPED:
        return None
    if dependency.condition == COMPLETE:
        return target.exit_code is not None
    if dependency.condition == SUCCESS:
        return target.exit_code == 0
    return False  # refused when the task definition was parsed


def unmet_reason(container: str, dependency: Dependency, target: ContainerState) -> str:
    """The agent's words for a dependency that can never be met."""
    outcome = (
        f"exited with code {target.exit_code}"
        if target.exit_code is not None
        else "stopped without an exit code"
    )
    return (
        "CannotStartContainerError: dependency graph: failed to resolve container ordering "
        f"dependency [{dependency.container}] ({dependency.condition}) for target "
        f"[{container}] as dependency did not exit successfully: it {outcome}"
    )
