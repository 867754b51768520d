"""Events: ECS task state changes of the executor cluster → the task-events function, and
one-minute schedules → the reaper and the warm pools' manager.

An event the task-events function fails on is retried (by Lambda, twice, and EventBridge
retries its own delivery failures) and then lands in a dead-letter queue; meanwhile the
reaper settles the execution from DescribeTasks, so the exit code is not lost.

The queue's alarm counts the messages sent to it (Lambda's on-failure destination and
EventBridge's dead-letter delivery both send), so it fires again for each new failure,
however long earlier ones stay in the queue; with mycli:alarmTopicArn it notifies that SNS
topic."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.functions import PythonFunction

TASK_EVENT_RETRIES = 2
DEAD_LETTER_RETENTION = Duration.days(14)
# The dead-letter alarm's period: SQS publishes its metrics each minute, sometimes late.
ALARM_PERIOD = Duration.minutes(5)


class LifecycleEvents(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster: ecs.ICluster,
        task_events: PythonFunction,
        reaper: PythonFunction,
        warm_pool_manager: PythonFunction,
        alarm_topic_arn: str = "",
    ) -> None:
        """`alarm_topic_arn`: the SNS topic every alarm notifies ("" for none)."""
        super().__init__(scope, construct_id)
        self.dead_letters = self._build_dead_letters()
        task_events.function.configure_async_invoke(
            retry_attempts=TASK_EVENT_RETRIES,
            max_event_age=Duration.hours(6),
            on_failure=destinations.SqsDestination(self.dead_letters),
        )
        self.task_state_rule = self._build_task_state_rule(cluster, task_events)
        self.reaper_schedule = self._build_reaper_schedule(reaper)
        self.warm_pool_schedule = self._build_warm_pool_schedule(warm_pool_manager)
        self.dead_letter_alarm = self._build_alarm()
        if alarm_topic_arn:
            topic = sns.Topic.from_topic_arn(self, "AlarmTopic", alarm_topic_arn)
            self.dead_letter_alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))

    def _build_dead_letters(self) -> sqs.Queue:
        queue = sqs.Queue(
            self,
            "TaskEventDeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=DEAD_LETTER_RETENTION,
        )
        Validations.of(queue).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SQS3",
                reason="This queue is itself the dead-letter queue of the task-state events.",
            )
        )
        return queue

    def _build_alarm(self) -> cloudwatch.Alarm:
        return cloudwatch.Alarm(
            self,
            "TaskEventDeadLettersAlarm",
            alarm_description=(
                "mycli: a task-state event failed every retry and was sent to the "
                "dead-letter queue; the reaper settles its execution from DescribeTasks"
            ),
            metric=self.dead_letters.metric_number_of_messages_sent(
                period=ALARM_PERIOD, statistic=cloudwatch.Stats.SUM
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

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
                    dead_letter_queue=self.dead_letters,
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

    def _build_warm_pool_schedule(self, manager: PythonFunction) -> events.Rule:
        return events.Rule(
            self,
            "WarmPoolSchedule",
            description="mycli warm pools: refill, stop stale and idle warm tasks",
            schedule=events.Schedule.rate(Duration.minutes(1)),
            targets=[targets.LambdaFunction(manager.function, retry_attempts=0)],
        )
