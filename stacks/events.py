"""Events: ECS task state changes of the executor cluster → the task-events function, and a
one-minute schedule → the reaper."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from constructs import Construct

from stacks.functions import PythonFunction


class LifecycleEvents(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster: ecs.ICluster,
        task_events: PythonFunction,
        reaper: PythonFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        self.task_state_rule = self._build_task_state_rule(cluster, task_events)
        self.reaper_schedule = self._build_reaper_schedule(reaper)

    def _build_task_state_rule(
        self, cluster: ecs.ICluster, task_events: PythonFunction
    ) -> events.Rule:
        return events.Rule(
            self,
            "TaskStateChanges",
            description="mycli executor task state changes",
            event_pattern=events.EventPattern(
                source=["aws.ecs"],
                detail_type=["ECS Task State Change"],
                detail={
                    "clusterArn": [cluster.cluster_arn],
                    "lastStatus": ["RUNNING", "STOPPED"],
                },
            ),
            targets=[
                targets.LambdaFunction(
                    task_events.function,
                    retry_attempts=8,
                    max_event_age=Duration.hours(2),
                )
            ],
        )

    def _build_reaper_schedule(self, reaper: PythonFunction) -> events.Rule:
        return events.Rule(
            self,
            "ReaperSchedule",
            description="mycli reaper: timeouts and lost tasks",
            schedule=events.Schedule.rate(Duration.minutes(1)),
            targets=[targets.LambdaFunction(reaper.function, retry_attempts=0)],
        )
