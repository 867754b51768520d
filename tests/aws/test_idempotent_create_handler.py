"""The create-execution Lambda on moto: a repeated Idempotency-Key returns the first
execution (DynamoDB stores), and ECS runs it once; the same key with another body is 422."""

from __future__ import annotations

import boto3

from lambda_harness import Lambdas
from moto_aws import REGION


def test_a_repeated_key_returns_the_first_execution_and_runs_one_task(lambdas: Lambdas) -> None:
    body = {"command": "make deploy", "lock": "prod"}
    key = {"Idempotency-Key": "2f9c0e7d-retry"}

    first = lambdas.call("POST", "/executions", lambdas.alice_key, body=body, headers=key)
    again = lambdas.call("POST", "/executions", lambdas.alice_key, body=body, headers=key)

    assert first[0] == again[0] == 202, again
    assert again[1]["execution_id"] == first[1]["execution_id"]
    assert again[1]["task_ref"] == first[1]["task_ref"]
    ecs = boto3.client("ecs", region_name=REGION)
    tasks = ecs.list_tasks(cluster=lambdas.settings.cluster)["taskArns"]
    assert tasks == [first[1]["task_ref"]]
    _, page = lambdas.call("GET", "/executions", lambdas.alice_key)
    assert [e["execution_id"] for e in page["items"]] == [first[1]["execution_id"]]


def test_a_malformed_key_is_400_on_aws_too(lambdas: Lambdas) -> None:
    status, body = lambdas.call(
        "POST",
        "/executions",
        lambdas.alice_key,
        body={"command": "true"},
        headers={"Idempotency-Key": "no spaces please"},
    )

    assert status == 400
    assert "1-128 characters" in body["error"]["message"]


def test_the_same_key_with_another_body_is_422_and_runs_nothing_more(lambdas: Lambdas) -> None:
    key = {"Idempotency-Key": "2f9c0e7d-reused"}
    body = {"command": "make deploy", "env": {"TARGET": "staging"}}
    first = lambdas.call("POST", "/executions", lambdas.alice_key, body=body, headers=key)

    status, refused = lambdas.call(
        "POST",
        "/executions",
        lambdas.alice_key,
        body={**body, "env": {"TARGET": "prod"}},
        headers=key,
    )

    assert (first[0], status) == (202, 422), refused
    assert refused["error"]["code"] == "idempotency_key_reused"
    assert refused["error"]["details"]["execution_id"] == first[1]["execution_id"]
    ecs = boto3.client("ecs", region_name=REGION)
    assert ecs.list_tasks(cluster=lambdas.settings.cluster)["taskArns"] == [first[1]["task_ref"]]
    item = boto3.client("dynamodb", region_name=REGION).query(
        TableName=lambdas.settings.executions_table,
        KeyConditionExpression="execution_id = :id",
        ExpressionAttributeValues={":id": {"S": first[1]["execution_id"]}},
    )["Items"][0]
    assert item["request_fingerprint"]["S"].startswith("v1:")
    assert "staging" not in str(item), "the env value is not stored, only its digest"
