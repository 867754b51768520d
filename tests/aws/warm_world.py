"""Warm tasks on moto: an image with a pool, and a warm task of it started and ready, as
the pool manager and the task-events function leave them (docs/warm-runners.md)."""

from __future__ import annotations

from typing import Any

import boto3

from lambda_harness import Lambdas
from moto_aws import REGION
from orchestrator.adapters.aws.clients import AwsClients
from orchestrator.adapters.aws.composition import image_platform, image_store
from orchestrator.adapters.aws.s3_mailbox import S3Mailboxes, mailbox_key
from orchestrator.adapters.aws.settings import AwsSettings
from orchestrator.adapters.clock import SystemClock
from orchestrator.domain.models import Image, utc_iso
from orchestrator.domain.warm_tasks import WarmState, WarmTask
from orchestrator.ports import WarmPool

TASK_ID = "a" * 32


def tools(aws: AwsSettings, warm: int = 2) -> Image:
    """The image `tools` (0.25 vCPU, 512 MiB), registered: its own task definition, made
    from the run task definition as the create-image function makes it."""
    image = Image(
        name="tools",
        uri="public.ecr.aws/docker/library/alpine:3",
        cpu=256,
        memory=512,
        max_cpu=1024,
        max_memory=2048,
        registered_by="admin@example.com",
        registered_at=utc_iso(SystemClock().now()),
        warm=warm,
    )
    image = image_platform(aws, AwsClients()).register(image)
    image_store(aws, AwsClients()).create(image)
    return image


def ecs_warm_task(aws: AwsSettings, task_id: str = TASK_ID) -> str:
    """An ECS task of `tools` started as the warm task `task_id` (startedBy w-<id>): its ARN."""
    image = image_store(aws, AwsClients()).get("tools")
    assert image is not None and image.platform_ref is not None
    started = boto3.client("ecs", region_name=REGION).run_task(
        cluster=aws.cluster,
        taskDefinition=image.platform_ref,
        launchType="FARGATE",
        startedBy=f"w-{task_id}"[:36],
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": list(aws.subnets),
                "securityGroups": list(aws.security_groups),
            }
        },
    )
    arn: str = started["tasks"][0]["taskArn"]
    return arn


def ready_task(aws: AwsSettings, pool: WarmPool, task_id: str = TASK_ID) -> str:
    """A warm task the pool manager started and whose containers run: its ECS task's ARN."""
    now = SystemClock().now()
    image = image_store(aws, AwsClients()).get("tools")
    assert image is not None and image.platform_ref is not None
    arn = ecs_warm_task(aws, task_id)
    S3Mailboxes(boto3.client("s3", region_name=REGION), aws.code_bucket).write_waiting(
        mailbox_key(task_id)
    )
    pool.register(
        WarmTask(
            task_id=task_id,
            image="tools",
            state=WarmState.STARTING,
            mailbox=mailbox_key(task_id),
            platform_ref=image.platform_ref,
            started_at=utc_iso(now),
            usable_until="2999-01-01T00:00:00.000Z",
        )
    )
    assert pool.mark_ready(task_id, arn, utc_iso(now)) is not None
    return arn


def warm_run_holding_prod(lambdas: Lambdas, pool: WarmPool) -> tuple[str, dict[str, Any]]:
    """A run of `make` on `tools` (a pool of 2) started on its ready warm task, holding the
    lock `prod`: the task's ARN and the execution as the create answered it."""
    tools(lambdas.settings)
    arn = ready_task(lambdas.settings, pool)
    status, execution = lambdas.call(
        "POST",
        "/executions",
        lambdas.alice_key,
        body={"command": "make", "lock": "prod", "image": "tools"},
    )
    assert status == 202, execution
    return arn, execution
