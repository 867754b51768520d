"""`aws-twin reset`: the running twin emptied back to a fresh deployment, without a new
synthesis or moto server. Every task is stopped (its STOPPED event delivered), then the
tables, the buckets, the stack's secrets, the runs' log streams and the queues are emptied
(the fault hooks removed first), and a new admin key is issued (the old keys went with the
table). Takes about a second, where `down` and `up` take several: the e2e suite shares one
twin across tests this way."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)
Clients = Callable[[str], Any]


def empty_tables(client: Clients) -> int:
    """Delete every item of every table (moto holds only this twin's); how many."""
    dynamodb = client("dynamodb")
    deleted = 0
    for table in dynamodb.list_tables()["TableNames"]:
        keys = [
            part["AttributeName"]
            for part in dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]
        ]
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                dynamodb.delete_item(TableName=table, Key={key: item[key] for key in keys})
                deleted += 1
    return deleted


def empty_buckets(client: Clients) -> int:
    """Delete every object of every bucket; how many."""
    s3 = client("s3")
    deleted = 0
    for bucket in s3.list_buckets()["Buckets"]:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket["Name"]):
            objects = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if objects:
                s3.delete_objects(Bucket=bucket["Name"], Delete={"Objects": objects})
                deleted += len(objects)
    return deleted


def delete_parameters_under(client: Clients, path: str) -> int:
    """Delete every SSM parameter under `path` (the stack's secrets); how many."""
    ssm = client("ssm")
    names = [
        parameter["Name"]
        for page in ssm.get_paginator("get_parameters_by_path").paginate(
            Path=path.rstrip("/") or "/", Recursive=True
        )
        for parameter in page["Parameters"]
    ]
    for start in range(0, len(names), 10):
        ssm.delete_parameters(Names=names[start : start + 10])
    return len(names)


def delete_log_streams(client: Clients) -> int:
    """Delete every log stream of every log group (the groups stay); how many."""
    logs = client("logs")
    deleted = 0
    for page in logs.get_paginator("describe_log_groups").paginate():
        for group in page["logGroups"]:
            name = group["logGroupName"]
            for streams in logs.get_paginator("describe_log_streams").paginate(logGroupName=name):
                for stream in streams["logStreams"]:
                    logs.delete_log_stream(logGroupName=name, logStreamName=stream["logStreamName"])
                    deleted += 1
    return deleted


def empty_queues(client: Clients) -> int:
    """Delete every message of every SQS queue (the task events' dead letters; PurgeQueue
    is allowed once a minute only); how many."""
    sqs = client("sqs")
    deleted = 0
    for url in sqs.list_queues().get("QueueUrls", []):
        while messages := sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30
        ).get("Messages", []):
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(number), "ReceiptHandle": message["ReceiptHandle"]}
                    for number, message in enumerate(messages)
                ],
            )
            deleted += len(messages)
    return deleted


def empty_state(client: Clients, secrets_path: str) -> dict[str, int]:
    """Everything a deployment stored, deleted; what was deleted, by kind."""
    emptied = {
        "items": empty_tables(client),
        "objects": empty_buckets(client),
        "secrets": delete_parameters_under(client, secrets_path) if secrets_path else 0,
        "log streams": delete_log_streams(client),
        "queued messages": empty_queues(client),
    }
    logger.info("reset: deleted %s", emptied)
    return emptied
