"""AWS resources in moto, shaped like the CDK stack's: the tables, the executor (VPC,
subnets, security group, cluster, the run task definition: the agent and the command),
its log group, the code bucket and the keys."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from moto import mock_aws
from moto.moto_api import state_manager

from orchestrator.adapters.aws.settings import AwsSettings
from orchestrator.agent.layout import AGENT_CONTAINER, COMMAND_CONTAINER
from orchestrator.agent.scripts import command_entry_script
from twin.moto_writes import atomic_dynamodb_requests

REGION = "eu-west-1"
LOG_GROUP = "/mycli/executions"
CODE_BUCKET = "mycli-code"
SECRETS_PATH = "/mycli/MycliTest/"
TASK_ROLE_ARN = "arn:aws:iam::123456789012:role/mycli-task"

TABLES: dict[str, dict[str, Any]] = {
    "APIKeys": {
        "KeySchema": [{"AttributeName": "api_key_hash", "KeyType": "HASH"}],
        "AttributeDefinitions": [
            {"AttributeName": "api_key_hash", "AttributeType": "S"},
            {"AttributeName": "user_email", "AttributeType": "S"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": "user_email-index",
                "KeySchema": [{"AttributeName": "user_email", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    },
    "Executions": {
        "KeySchema": [
            {"AttributeName": "execution_id", "KeyType": "HASH"},
            {"AttributeName": "started_at", "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": [
            {"AttributeName": "execution_id", "AttributeType": "S"},
            {"AttributeName": "started_at", "AttributeType": "S"},
            {"AttributeName": "user_email", "AttributeType": "S"},
            {"AttributeName": "status", "AttributeType": "S"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": name,
                "KeySchema": [
                    {"AttributeName": partition, "KeyType": "HASH"},
                    {"AttributeName": "started_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for name, partition in (
                ("user_email-started_at", "user_email"),
                ("status-started_at", "status"),
            )
        ],
    },
    "Locks": {
        "KeySchema": [{"AttributeName": "lock_name", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "lock_name", "AttributeType": "S"}],
    },
    # Lock queues (docs/locks.md): not in the CDK stack yet.
    "LockQueue": {
        "KeySchema": [
            {"AttributeName": "lock_name", "KeyType": "HASH"},
            {"AttributeName": "item", "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": [
            {"AttributeName": "lock_name", "AttributeType": "S"},
            {"AttributeName": "item", "AttributeType": "S"},
        ],
    },
    "Images": {
        "KeySchema": [{"AttributeName": "name", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "name", "AttributeType": "S"}],
    },
    # Warm pools (docs/warm-runners.md): not in the CDK stack yet.
    "WarmTasks": {
        "KeySchema": [{"AttributeName": "task_id", "KeyType": "HASH"}],
        "AttributeDefinitions": [
            {"AttributeName": "task_id", "AttributeType": "S"},
            {"AttributeName": "image", "AttributeType": "S"},
            {"AttributeName": "state", "AttributeType": "S"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": "image-state",
                "KeySchema": [
                    {"AttributeName": "image", "KeyType": "HASH"},
                    {"AttributeName": "state", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    },
}
IMAGE_ROLE_ARN_PREFIX = "arn:aws:iam::123456789012:role/mycli-task-"
EXECUTION_ROLE_ARN = "arn:aws:iam::123456789012:role/Mycli-ExecutorExecutionRole"
# Warm pools: the pool manager's name (invoked to refill) and the role it signs mailboxes as.
WARM_POOL_FUNCTION = "Mycli-warm-pools"
MAILBOX_SIGNER_ROLE_ARN = "arn:aws:iam::123456789012:role/Mycli-WarmPoolsMailboxSigner"
ECR_REPOSITORY_ARN_PREFIX = f"arn:aws:ecr:{REGION}:123456789012:repository/mycli/"


def create_tables() -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for name, definition in TABLES.items():
        dynamodb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **definition)
    dynamodb.update_time_to_live(
        TableName="Locks", TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"}
    )
    dynamodb.update_time_to_live(
        TableName="WarmTasks",
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at_epoch"},
    )
    dynamodb.update_time_to_live(
        TableName="Executions",
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at_epoch"},
    )


def create_executor() -> dict[str, Any]:
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    # moto's run_task needs DNS hostnames on the VPC (see shared/TOOLCHAIN.md).
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{n}.0/24")["Subnet"]["SubnetId"]
        for n in (1, 2)
    ]
    group = ec2.create_security_group(GroupName="executor", Description="egress", VpcId=vpc)
    ecs = boto3.client("ecs", region_name=REGION)
    cluster = ecs.create_cluster(clusterName="mycli")["cluster"]["clusterArn"]
    task_definition = ecs.register_task_definition(
        family="mycli-run",
        executionRoleArn=EXECUTION_ROLE_ARN,
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        volumes=[{"name": "workspace"}],
        containerDefinitions=[
            {
                "name": AGENT_CONTAINER,
                "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/cdk-assets:agent",
                "essential": True,
                "memory": 256,
            },
            {
                "name": COMMAND_CONTAINER,
                "image": "public.ecr.aws/docker/library/busybox",
                "essential": False,
                "memory": 256,
                # as the stack's: its own entry point, whatever the image's ENTRYPOINT
                "entryPoint": ["sh", "-c"],
                "command": [command_entry_script()],
                "dependsOn": [{"containerName": AGENT_CONTAINER, "condition": "START"}],
            },
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    env_key = boto3.client("kms", region_name=REGION).create_key(Description="env")["KeyMetadata"][
        "Arn"
    ]
    secrets_key = boto3.client("kms", region_name=REGION).create_key(Description="secrets")[
        "KeyMetadata"
    ]["Arn"]
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=CODE_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    boto3.client("logs", region_name=REGION).create_log_group(logGroupName=LOG_GROUP)
    # Keep tasks where we put them; moto otherwise advances their status on every describe.
    state_manager.set_transition(
        model_name="ecs::task", transition={"progression": "manual", "times": 10**6}
    )
    return {
        "cluster": cluster,
        "task_definition": task_definition,
        "code_bucket": CODE_BUCKET,
        "env_key": env_key,
        "secrets_path": SECRETS_PATH,
        "secrets_key": secrets_key,
        "task_role_arn": TASK_ROLE_ARN,
        "subnets": tuple(subnets),
        "security_groups": (group["GroupId"],),
    }


def environment(settings: AwsSettings) -> dict[str, str]:
    """The variables the CDK stack gives every function."""
    return {
        "API_KEYS_TABLE": settings.api_keys_table,
        "EXECUTIONS_TABLE": settings.executions_table,
        "LOCKS_TABLE": settings.locks_table,
        "LOCK_QUEUE_TABLE": settings.lock_queue_table,
        "CLUSTER_ARN": settings.cluster,
        "TASK_DEFINITION_ARN": settings.task_definition,
        "CODE_BUCKET": settings.code_bucket,
        "ENV_KEY_ARN": settings.env_key,
        "TASK_ROLE_ARN": settings.task_role_arn,
        "SUBNET_IDS": ",".join(settings.subnets),
        "SECURITY_GROUP_IDS": ",".join(settings.security_groups),
        "LOG_GROUP_NAME": settings.log_group,
        "LOG_STREAM_PREFIX": settings.log_stream_prefix,
        "IMAGES_TABLE": settings.images_table,
        "WARM_TASKS_TABLE": settings.warm_tasks_table,
        "WARM_POOL_FUNCTION": settings.warm_pool_function,
        "MAILBOX_SIGNER_ROLE_ARN": settings.mailbox_signer_role_arn,
        "IMAGE_ROLE_ARN_PREFIX": settings.image_role_arn_prefix,
        "IMAGE_FAMILY_PREFIX": settings.image_family_prefix,
        "ECR_REPOSITORY_ARN_PREFIX": settings.ecr_repository_arn_prefix,
        "SECRETS_PATH": settings.secrets_path,
        "SECRETS_KEY_ARN": settings.secrets_key,
        "PYDANTIC_DISABLE_PLUGINS": "__all__",
    }


@contextmanager
def moto_platform() -> Iterator[AwsSettings]:
    """Everything mocked and created; yields the settings a function would be given."""
    with mock_aws(), atomic_dynamodb_requests():
        create_tables()
        yield platform_settings(create_executor())


def platform_settings(executor: dict[str, Any]) -> AwsSettings:
    """The settings a function is given, for the tables and the executor created here."""
    return AwsSettings(
        api_keys_table="APIKeys",
        executions_table="Executions",
        locks_table="Locks",
        lock_queue_table="LockQueue",
        images_table="Images",
        warm_tasks_table="WarmTasks",
        warm_pool_function=WARM_POOL_FUNCTION,
        mailbox_signer_role_arn=MAILBOX_SIGNER_ROLE_ARN,
        image_role_arn_prefix=IMAGE_ROLE_ARN_PREFIX,
        ecr_repository_arn_prefix=ECR_REPOSITORY_ARN_PREFIX,
        log_group=LOG_GROUP,
        log_stream_prefix="exec",
        **executor,
    )
