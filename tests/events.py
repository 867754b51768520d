"""Events as AWS delivers them to Lambda: API Gateway REST proxy requests and EventBridge
"ECS Task State Change" notifications (the shape of AWS's documented examples)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode


@dataclass
class LambdaContext:
    aws_request_id: str
    function_name: str = "mycli-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:mycli-test"


def rest_event(
    method: str,
    path: str,
    *,
    key: str | None = None,
    body: Any = None,
    query: dict[str, str] | None = None,
    raw_body: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway REST (v1) proxy event, as API Gateway sends it to Lambda."""
    headers = {"Content-Type": "application/json", "Host": "api.example.com", **(headers or {})}
    if key is not None:
        headers["X-API-Key"] = key
    request_id = str(uuid.uuid4())
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "requestId": request_id,
            "stage": "prod",
            "httpMethod": method,
            "path": f"/prod{path}" + (f"?{urlencode(query)}" if query else ""),
            "resourcePath": path,
            "identity": {"sourceIp": "203.0.113.7"},
        },
        "body": raw_body
        if raw_body is not None
        else (json.dumps(body) if body is not None else None),
        "isBase64Encoded": False,
    }


def ecs_task_event(
    *,
    task_arn: str,
    cluster_arn: str,
    started_by: str,
    last_status: str,
    container_name: str = "command",
    exit_code: int | None = None,
    stop_code: str | None = None,
    stopped_reason: str | None = None,
    container_reason: str | None = None,
) -> dict[str, Any]:
    """An EventBridge "ECS Task State Change" event for a Fargate task."""
    container: dict[str, Any] = {
        "containerArn": task_arn.replace(":task/", ":container/") + "/c1",
        "lastStatus": last_status,
        "name": container_name,
        "image": "public.ecr.aws/docker/library/busybox:latest",
        "taskArn": task_arn,
        "networkInterfaces": [{"attachmentId": "a1", "privateIpv4Address": "10.0.1.23"}],
        "cpu": "0",
    }
    if exit_code is not None:
        container["exitCode"] = exit_code
    if container_reason is not None:
        container["reason"] = container_reason
    detail: dict[str, Any] = {
        "attachments": [{"id": "a1", "type": "eni", "status": "ATTACHED", "details": []}],
        "availabilityZone": "eu-west-1a",
        "clusterArn": cluster_arn,
        "containers": [container],
        "createdAt": "2026-01-01T12:00:00.000Z",
        "launchType": "FARGATE",
        "cpu": "256",
        "memory": "512",
        "desiredStatus": "STOPPED" if last_status == "STOPPED" else "RUNNING",
        "group": "family:mycli-executor",
        "lastStatus": last_status,
        "overrides": {"containerOverrides": [{"name": container_name}]},
        "connectivity": "CONNECTED",
        "startedBy": started_by,
        "taskArn": task_arn,
        "taskDefinitionArn": cluster_arn.replace(":cluster/", ":task-definition/") + "-executor:1",
        "updatedAt": "2026-01-01T12:00:05.000Z",
        "version": 3 if last_status == "STOPPED" else 2,
        "platformVersion": "1.4.0",
    }
    if last_status == "STOPPED":
        detail.update(
            stopCode=stop_code or "EssentialContainerExited",
            stoppedReason=stopped_reason or "Essential container in task exited",
            stoppedAt="2026-01-01T12:00:05.000Z",
            stoppingAt="2026-01-01T12:00:04.000Z",
        )
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "ECS Task State Change",
        "source": "aws.ecs",
        "account": "123456789012",
        "time": "2026-01-01T12:00:05Z",
        "region": "eu-west-1",
        "resources": [task_arn],
        "detail": detail,
    }
