"""The pool's open tasks on DynamoDB are read one state at a time: a task that becomes ready
between the `starting` and the `ready` query is listed once, as ready (it was listed twice,
and the pool manager stopped a ready task as surplus: seen on the twin, 5 tasks becoming
ready at once). The counts `GET /images` shows are read the same way."""

from __future__ import annotations

from typing import Any

import boto3

from moto_aws import REGION
from orchestrator.adapters.aws.dynamodb_warm_pool import DynamoWarmPool
from orchestrator.adapters.aws.settings import AwsSettings
from orchestrator.domain.warm_tasks import WarmState, WarmTask

TD = "arn:aws:ecs:eu-west-1:123456789012:task-definition/mycli-image-tools:3"


class ReadyBetweenQueries:
    """A DynamoDB client on which task 1 becomes ready right after the first index query."""

    def __init__(self, client: Any, pool: DynamoWarmPool) -> None:
        self._client = client
        self._pool = pool
        self._moved = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def query(self, **request: Any) -> Any:
        answer = self._client.query(**request)
        if not self._moved:
            self._moved = True
            self._pool.mark_ready(f"{1:032x}", "arn:aws:ecs:task/1", "2026-12-06T10:05:00.000Z")
        return answer


def two_starting_tasks(aws: AwsSettings) -> tuple[Any, DynamoWarmPool]:
    client = boto3.client("dynamodb", region_name=REGION)
    pool = DynamoWarmPool(client, "WarmTasks")
    for n in (1, 2):
        pool.register(
            WarmTask(
                task_id=f"{n:032x}",
                image="tools",
                state=WarmState.STARTING,
                mailbox=f"warm/{n:032x}/assignment",
                platform_ref=TD,
                started_at="2026-12-06T10:00:00.000Z",
                usable_until="2026-12-06T11:00:00.000Z",
            )
        )

    return client, pool


def test_a_task_becoming_ready_between_the_queries_is_listed_once_as_ready(
    aws: AwsSettings,
) -> None:
    client, pool = two_starting_tasks(aws)

    racing = DynamoWarmPool(ReadyBetweenQueries(client, pool), "WarmTasks")
    listed = racing.open_tasks("tools")

    assert [(task.task_id, task.state) for task in listed] == [
        (f"{1:032x}", WarmState.READY),
        (f"{2:032x}", WarmState.STARTING),
    ]


def test_a_task_becoming_ready_between_the_queries_is_counted_once(aws: AwsSettings) -> None:
    client, pool = two_starting_tasks(aws)

    racing = DynamoWarmPool(ReadyBetweenQueries(client, pool), "WarmTasks")
    counted = racing.counts("tools")

    assert counted == {WarmState.STARTING: 1, WarmState.READY: 1, WarmState.ASSIGNED: 0}
