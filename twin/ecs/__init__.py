"""The twin's ECS stand-in: runs an ECS task definition's containers as local processes.

- `task_definition`: the task definition (DescribeTaskDefinition's shape, or converted from
  the synthesized CloudFormation) and RunTask's overrides, validated as ECS would.
- `images`: what a container image means on this host (pluggable).
- `volumes`: each container's mount points, through a private mount namespace or a prefix.
- `process`: one container's process, its output captured.
- `tasks`: a running task (dependency conditions, essential containers, stop).
- `standin`: RunTask / StopTask / DescribeTasks over the running tasks.
- `events`: EventBridge's "ECS Task State Change" events and DescribeTasks' records.
- `start_delay`: Fargate's start latency, modelled (a setting read at each RunTask)."""

from twin.ecs.images import ImageMapper, ImageRuntime, host_image, images_by_repository
from twin.ecs.process import ContainerOutput, OutputSink
from twin.ecs.standin import EcsStandIn, EventSink
from twin.ecs.start_delay import StartDelaySetting
from twin.ecs.task_definition import (
    TaskDefinition,
    TaskDefinitionError,
    from_cloudformation,
    parse_task_definition,
)
from twin.ecs.tasks import TaskRun
from twin.ecs.volumes import VolumeMode

__all__ = [
    "ContainerOutput",
    "EcsStandIn",
    "EventSink",
    "ImageMapper",
    "ImageRuntime",
    "OutputSink",
    "StartDelaySetting",
    "TaskDefinition",
    "TaskDefinitionError",
    "TaskRun",
    "VolumeMode",
    "from_cloudformation",
    "host_image",
    "images_by_repository",
    "parse_task_definition",
]
