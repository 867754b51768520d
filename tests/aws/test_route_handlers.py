"""Every route's Lambda handler, driven with API Gateway REST events against moto, with the
same authorization cases as the embedded e2e tests."""

from __future__ import annotations

import base64
import json
import subprocess
import time
import urllib.request
from typing import Any

import boto3
import pytest

from archives import member, tarball
from events import ecs_task_event
from lambda_harness import Lambdas
from moto_aws import REGION
from orchestrator.adapters.aws.run_inputs import manifest_key
from orchestrator.adapters.aws.s3_uploads import user_prefix
from orchestrator.handlers.catalog import ROUTES


def start(lambdas: Lambdas, key: str, **body: Any) -> dict[str, Any]:
    status, execution = lambdas.call(
        "POST", "/executions", key, body={"command": "make deploy"} | body
    )
    assert status == 202, execution
    return execution


def stop_event(lambdas: Lambdas, execution: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return ecs_task_event(
        task_arn=execution["task_ref"],
        cluster_arn=lambdas.settings.cluster,
        started_by=execution["execution_id"],
        last_status="STOPPED",
        **fields,
    )


def test_every_route_of_the_contract_has_its_own_function() -> None:
    modules = [route.module for route in ROUTES]
    assert len(modules) == len(set(modules)) == 20


def test_health_answers_without_a_key(lambdas: Lambdas) -> None:
    assert lambdas.call("GET", "/health") == (
        200,
        {"status": "ok", "version": "0.1.0", "backend": "aws"},
    )


@pytest.mark.parametrize(
    "route", [r for r in ROUTES if r.path != "/health"], ids=lambda r: r.module
)
def test_every_other_function_refuses_a_missing_key(lambdas: Lambdas, route: Any) -> None:
    path = (
        route.path.replace("{execution_id}", "x")
        .replace("{lock_name}", "x")
        .replace("{email}", "a@b.c")
        .replace("{name}", "x")
    )
    status, body = lambdas.call(route.method, path, None, body={})
    assert (status, body["error"]["code"]) == (401, "unauthorized")


def test_a_revoked_key_is_refused_on_its_next_request(lambdas: Lambdas) -> None:
    assert lambdas.call("GET", "/me", lambdas.bob_key)[0] == 200
    assert lambdas.call("DELETE", "/users/bob@example.com", lambdas.admin_key)[0] == 200
    assert lambdas.call("GET", "/me", lambdas.bob_key)[0] == 401


def test_user_routes_need_the_admin_role(lambdas: Lambdas) -> None:
    for method, path, body in [
        ("GET", "/users", None),
        ("POST", "/users", {"email": "c@example.com"}),
        ("DELETE", "/users/bob@example.com", None),
        ("DELETE", "/locks/prod", None),
    ]:
        status, error = lambdas.call(method, path, lambdas.alice_key, body=body)
        assert (status, error["error"]["code"]) == (403, "forbidden")


def test_create_runs_an_ecs_task_and_records_it(lambdas: Lambdas) -> None:
    execution = start(lambdas, lambdas.alice_key, lock="prod")

    ecs = boto3.client("ecs", region_name=REGION)
    [task] = ecs.describe_tasks(cluster=lambdas.settings.cluster, tasks=[execution["task_ref"]])[
        "tasks"
    ]
    assert execution["status"] == "STARTING"
    assert task["startedBy"] == execution["execution_id"]
    assert task["taskDefinitionArn"] == lambdas.settings.task_definition
    _, locks = lambdas.call("GET", "/locks", lambdas.bob_key)
    assert [lock["execution_id"] for lock in locks["items"]] == [execution["execution_id"]]


def test_a_held_lock_is_409_naming_the_holder(lambdas: Lambdas) -> None:
    holder = start(lambdas, lambdas.alice_key, lock="prod")

    status, error = lambdas.call(
        "POST", "/executions", lambdas.bob_key, body={"command": "x", "lock": "prod"}
    )

    assert status == 409
    assert error["error"]["details"]["holder"] == "alice@example.com"
    assert error["error"]["details"]["execution_id"] == holder["execution_id"]


def test_a_launch_failure_is_recorded_failed_and_frees_the_lock(
    lambdas: Lambdas, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASK_DEFINITION_ARN", "missing-family:1")
    from orchestrator.handlers import runtime

    runtime.settings.cache_clear()
    runtime.ports.cache_clear()
    runtime.services.cache_clear()

    execution = start(lambdas, lambdas.alice_key, lock="prod")

    assert execution["status"] == "FAILED"
    assert execution["reason"].startswith("failed to start: ")
    assert lambdas.call("GET", "/locks", lambdas.alice_key)[1]["items"] == []


def test_another_users_execution_is_404_and_an_admin_sees_and_cancels_it(lambdas: Lambdas) -> None:
    execution = start(lambdas, lambdas.alice_key)
    path = f"/executions/{execution['execution_id']}"

    for method, suffix in [("GET", ""), ("GET", "/logs"), ("POST", "/cancel")]:
        assert lambdas.call(method, path + suffix, lambdas.bob_key)[0] == 404
    assert lambdas.call("GET", path, lambdas.admin_key)[0] == 200
    status, cancelling = lambdas.call("POST", f"{path}/cancel", lambdas.admin_key)

    assert (status, cancelling["status"]) == (202, "CANCELLING")
    ecs = boto3.client("ecs", region_name=REGION)
    [task] = ecs.describe_tasks(cluster=lambdas.settings.cluster, tasks=[execution["task_ref"]])[
        "tasks"
    ]
    assert task["stoppedReason"] == "cancelled by admin@example.com"


def test_logs_come_from_the_tasks_cloudwatch_stream(lambdas: Lambdas) -> None:
    execution = start(lambdas, lambdas.alice_key)
    logs = boto3.client("logs", region_name=REGION)
    now_ms = int(time.time() * 1000)
    path = f"/executions/{execution['execution_id']}/logs"
    assert lambdas.call("GET", path, lambdas.alice_key)[1]["chunks"] == []

    logs.create_log_stream(
        logGroupName=lambdas.settings.log_group, logStreamName=execution["log_stream_name"]
    )
    logs.put_log_events(
        logGroupName=lambdas.settings.log_group,
        logStreamName=execution["log_stream_name"],
        logEvents=[{"timestamp": now_ms + n, "message": f"step {n}"} for n in range(3)],
    )
    started = time.monotonic()
    _, page = lambdas.call("GET", path, lambdas.alice_key, query={"wait": "20"})
    _, after = lambdas.call(
        "GET", path, lambdas.alice_key, query={"cursor": page["next_cursor"], "wait": "20"}
    )

    data = b"".join(base64.b64decode(c["data"]) for c in page["chunks"])
    assert data == b"step 0\nstep 1\nstep 2\n"
    assert {c["stream"] for c in page["chunks"]} == {"combined"}
    assert after["chunks"] == []
    assert (page["status"], page["complete"], page["truncated_at"]) == ("STARTING", False, None)
    assert time.monotonic() - started < 10  # a function never waits for output


def test_listings_page_through_the_indexes(lambdas: Lambdas) -> None:
    mine = [start(lambdas, lambdas.alice_key)["execution_id"] for _ in range(3)]
    start(lambdas, lambdas.bob_key)

    _, first = lambdas.call("GET", "/executions", lambdas.alice_key, query={"limit": "2"})
    _, second = lambdas.call(
        "GET",
        "/executions",
        lambdas.alice_key,
        query={"limit": "2", "cursor": first["next_cursor"]},
    )
    _, everyone = lambdas.call("GET", "/executions", lambdas.admin_key, query={"limit": "3"})
    _, rest = lambdas.call(
        "GET",
        "/executions",
        lambdas.admin_key,
        query={"limit": "3", "cursor": everyone["next_cursor"]},
    )
    _, starting = lambdas.call(
        "GET", "/executions", lambdas.admin_key, query={"status": "STARTING"}
    )

    assert {e["execution_id"] for e in first["items"] + second["items"]} == set(mine)
    assert second["next_cursor"] is None
    assert len(everyone["items"] + rest["items"]) == 4
    assert rest["next_cursor"] is None
    assert len(starting["items"]) == 4


def test_task_events_settle_the_execution_and_free_the_lock(lambdas: Lambdas) -> None:
    execution = start(lambdas, lambdas.alice_key, lock="prod")
    running = ecs_task_event(
        task_arn=execution["task_ref"],
        cluster_arn=lambdas.settings.cluster,
        started_by=execution["execution_id"],
        last_status="RUNNING",
    )
    stopped = stop_event(lambdas, execution, exit_code=3)

    lambdas.invoke("task_events", running)
    after_running = lambdas.call(
        "GET", f"/executions/{execution['execution_id']}", lambdas.alice_key
    )[1]
    lambdas.invoke("task_events", stopped)
    for replay in (stopped, running, stop_event(lambdas, execution, exit_code=0)):
        assert lambdas.invoke("task_events", replay)["status"] == "FAILED"
    _, final = lambdas.call("GET", f"/executions/{execution['execution_id']}", lambdas.alice_key)

    assert after_running["status"] == "RUNNING"
    assert (final["status"], final["exit_code"], final["reason"]) == (
        "FAILED",
        3,
        "exited with code 3",
    )
    assert lambdas.call("GET", "/locks", lambdas.alice_key)[1]["items"] == []


def test_a_task_that_never_started_is_failed_with_the_reason(lambdas: Lambdas) -> None:
    execution = start(lambdas, lambdas.alice_key, lock="prod")

    lambdas.invoke(
        "task_events",
        stop_event(
            lambdas,
            execution,
            stop_code="TaskFailedToStart",
            stopped_reason="CannotPullContainerError: pull image manifest has been retried",
            container_reason="CannotPullContainerError",
        ),
    )
    _, final = lambdas.call("GET", f"/executions/{execution['execution_id']}", lambdas.alice_key)

    assert final["status"] == "FAILED"
    assert final["reason"].startswith("failed to start: CannotPullContainerError")
    assert lambdas.call("GET", "/locks", lambdas.alice_key)[1]["items"] == []


def test_events_about_other_tasks_are_ignored(lambdas: Lambdas) -> None:
    execution = start(lambdas, lambdas.alice_key)
    foreign = ecs_task_event(
        task_arn=execution["task_ref"][:-4] + "ffff",
        cluster_arn=lambdas.settings.cluster,
        started_by=execution["execution_id"],
        last_status="STOPPED",
        exit_code=0,
    )
    unrelated = ecs_task_event(
        task_arn=execution["task_ref"],
        cluster_arn=lambdas.settings.cluster,
        started_by="",
        last_status="STOPPED",
    )

    assert lambdas.invoke("task_events", foreign) == {"ignored": True}
    assert lambdas.invoke("task_events", unrelated) == {"ignored": True}
    assert (
        lambdas.call("GET", f"/executions/{execution['execution_id']}", lambdas.alice_key)[1][
            "status"
        ]
        == "STARTING"
    )


def test_the_reaper_stops_overdue_tasks_and_their_stop_event_is_a_timeout(lambdas: Lambdas) -> None:
    execution = start(lambdas, lambdas.alice_key, lock="prod", timeout_seconds=1)
    time.sleep(1.1)

    report = lambdas.invoke("reaper", {"source": "aws.events", "detail-type": "Scheduled Event"})
    ecs = boto3.client("ecs", region_name=REGION)
    [task] = ecs.describe_tasks(cluster=lambdas.settings.cluster, tasks=[execution["task_ref"]])[
        "tasks"
    ]
    lambdas.invoke(
        "task_events",
        stop_event(
            lambdas,
            execution,
            stop_code="UserInitiated",
            stopped_reason=task["stoppedReason"],
            exit_code=137,
        ),
    )
    _, final = lambdas.call("GET", f"/executions/{execution['execution_id']}", lambdas.alice_key)

    assert report["stopped"] == [execution["execution_id"]]
    assert final["status"] == "TIMED_OUT"
    assert lambdas.call("GET", "/locks", lambdas.alice_key)[1]["items"] == []


def test_the_reaper_fails_executions_whose_task_is_lost(lambdas: Lambdas) -> None:
    from orchestrator.handlers import runtime

    execution = start(lambdas, lambdas.alice_key, lock="prod")
    phantom = lambdas.settings.cluster.replace(":cluster/", ":task/") + "/" + "0" * 32
    runtime.ports().executions.annotate(execution["execution_id"], task_ref=phantom)

    report = lambdas.invoke("reaper", {"source": "aws.events", "detail-type": "Scheduled Event"})
    _, final = lambdas.call("GET", f"/executions/{execution['execution_id']}", lambdas.alice_key)

    assert report["lost"] == [execution["execution_id"]]
    assert (final["status"], final["reason"]) == ("FAILED", "task lost")
    assert lambdas.call("GET", "/locks", lambdas.alice_key)[1]["items"] == []


def test_users_are_managed_through_dynamodb(lambdas: Lambdas) -> None:
    status, created = lambdas.call(
        "POST", "/users", lambdas.admin_key, body={"email": "carol@example.com"}
    )
    assert status == 201
    assert lambdas.call("GET", "/me", created["api_key"])[1] == {
        "email": "carol@example.com",
        "role": "user",
    }
    _, users = lambdas.call("GET", "/users", lambdas.admin_key)
    assert {u["email"] for u in users["items"]} == {
        "admin@example.com",
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
    }
    stored = boto3.client("dynamodb", region_name=REGION).scan(TableName="APIKeys")["Items"]
    assert created["api_key"] not in json.dumps(stored)


def test_an_upload_goes_to_the_users_prefix_and_runs_in_the_prepared_task(
    lambdas: Lambdas, moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Presigned URLs must reach a real HTTP server: S3 calls go to moto's server (which shares
    # moto's in-process state), everything else stays mocked in-process.
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server)
    status, slot = lambdas.call("POST", "/uploads", lambdas.alice_key)
    assert status == 201
    assert slot["url"].startswith(moto_server)
    archive = tarball(member("run.sh", b"#!/bin/sh\necho hi\n", 0o755))
    put = urllib.request.Request(slot["url"], data=archive, method="PUT", headers=slot["headers"])
    with urllib.request.urlopen(put, timeout=10) as response:
        assert response.status == 200

    refused = lambdas.call(
        "POST",
        "/executions",
        lambdas.bob_key,
        body={"command": "./run.sh", "upload_id": slot["upload_id"]},
    )
    execution = start(lambdas, lambdas.alice_key, upload_id=slot["upload_id"], command="./run.sh")

    assert refused[0] == 404
    ecs = boto3.client("ecs", region_name=REGION)
    [task] = ecs.describe_tasks(cluster=lambdas.settings.cluster, tasks=[execution["task_ref"]])[
        "tasks"
    ]
    assert task["taskDefinitionArn"] == lambdas.settings.prepared_task_definition
    manifest = read_manifest(execution["execution_id"])
    key = f"{user_prefix('alice@example.com')}{slot['upload_id']}.tar.gz"
    assert f"/{key}?" in manifest["upload_url"]
    with urllib.request.urlopen(manifest["upload_url"], timeout=10) as fetched:
        assert fetched.read() == archive
    assert "MYCLI_UPLOAD_KEY" not in json.dumps(task["overrides"])


@pytest.mark.parametrize(
    ("containers", "reason"),
    [
        (
            {"fetch": 1},
            "could not fetch the run's inputs: fetch exited with code 1",
        ),
        (
            {"fetch": 0, "prepare": 255},
            "could not unseal the env values: prepare exited with code 255",
        ),
        ({"prepare": 0, "unpack": 67}, "upload refused: path leaves the directory"),
        ({"prepare": 0, "unpack": 66}, "upload refused: absolute path in archive"),
        ({"prepare": 0, "unpack": 65}, "upload refused: corrupt archive"),
        (
            {"prepare": 0, "unpack": 70},
            "upload refused: unpacks to more than the unpacked-size limit",
        ),
        ({"prepare": 0, "unpack": 71}, "upload refused: has more entries than the entry limit"),
        ({"prepare": 0, "unpack": 72}, "upload refused: path goes through a link"),
        (
            {"prepare": 0, "unpack": 73},
            "upload refused: hard link to something other than an earlier file of the archive",
        ),
        ({"prepare": 0, "unpack": 137}, "upload refused: unpack exited with code 137"),
    ],
)
def test_a_refused_upload_fails_the_execution_with_the_reason(
    lambdas: Lambdas, containers: dict[str, int], reason: str
) -> None:
    execution = start(lambdas, lambdas.alice_key, lock="prod")
    event = stop_event(lambdas, execution, stop_code="EssentialContainerExited")
    for name, code in containers.items():
        event["detail"]["containers"].append(
            {"name": name, "lastStatus": "STOPPED", "exitCode": code}
        )

    lambdas.invoke("task_events", event)
    _, final = lambdas.call("GET", f"/executions/{execution['execution_id']}", lambdas.alice_key)

    assert (final["status"], final["reason"]) == ("FAILED", reason)
    assert lambdas.call("GET", "/locks", lambdas.alice_key)[1]["items"] == []


def test_env_values_reach_the_task_sealed_never_in_plaintext(lambdas: Lambdas) -> None:
    execution = start(
        lambdas,
        lambdas.alice_key,
        command="deploy",
        env={"DB_PASSWORD": "p@ss w'rd", "STAGE": "blue"},
    )

    ecs = boto3.client("ecs", region_name=REGION)
    [task] = ecs.describe_tasks(cluster=lambdas.settings.cluster, tasks=[execution["task_ref"]])[
        "tasks"
    ]
    overrides = json.dumps(task["overrides"])
    stored = json.dumps(boto3.client("dynamodb", region_name=REGION).scan(TableName="Executions"))
    assert task["taskDefinitionArn"] == lambdas.settings.prepared_task_definition
    assert "p@ss" not in overrides and "blue" not in overrides
    assert "p@ss" not in stored and "blue" not in stored
    assert execution["env_names"] == ["DB_PASSWORD", "STAGE"]

    manifest = read_manifest(execution["execution_id"])
    assert "p@ss" not in json.dumps(manifest) and "blue" not in json.dumps(manifest)
    [sealed] = manifest["sealed_env"]
    kms = boto3.client("kms", region_name=REGION)
    plaintext = kms.decrypt(
        CiphertextBlob=base64.b64decode(sealed),
        EncryptionContext={"execution_id": execution["execution_id"]},
    )["Plaintext"].decode()
    [grant] = kms.list_grants(KeyId=lambdas.settings.env_key)["Grants"]
    assert grant["GranteePrincipal"] == lambdas.settings.task_role_arn
    assert grant["Operations"] == ["Decrypt"]
    assert grant["Constraints"] == {
        "EncryptionContextEquals": {"execution_id": execution["execution_id"]}
    }
    assert plaintext == "DB_PASSWORD='p@ss w'\"'\"'rd'\nSTAGE=blue\n"
    loaded = subprocess.run(
        ["sh", "-c", 'set -a; . /dev/stdin; set +a; echo "$DB_PASSWORD|$STAGE"'],
        input=plaintext,
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout == "p@ss w'rd|blue\n"
    assert manifest["command"] == "deploy"
    assert "deploy" not in overrides


def read_manifest(execution_id: str) -> dict[str, Any]:
    s3 = boto3.client("s3", region_name=REGION)
    body = s3.get_object(Bucket="mycli-code", Key=manifest_key(execution_id))["Body"].read()
    manifest: dict[str, Any] = json.loads(body)
    return manifest


def test_a_failed_setup_step_shows_its_own_output(lambdas: Lambdas) -> None:
    execution = start(lambdas, lambdas.alice_key, env={"TOKEN": "x"})
    task_id = execution["task_ref"].rsplit("/", 1)[-1]
    logs = boto3.client("logs", region_name=REGION)
    stream = f"exec/prepare/{task_id}"
    logs.create_log_stream(logGroupName=lambdas.settings.log_group, logStreamName=stream)
    logs.put_log_events(
        logGroupName=lambdas.settings.log_group,
        logStreamName=stream,
        logEvents=[
            {
                "timestamp": int(time.time() * 1000),
                "message": "An error occurred (AccessDeniedException) when calling the Decrypt "
                "operation: no grant",
            }
        ],
    )
    event = stop_event(lambdas, execution, stop_code="EssentialContainerExited")
    event["detail"]["containers"] += [
        {"name": "fetch", "lastStatus": "STOPPED", "exitCode": 0},
        {"name": "prepare", "lastStatus": "STOPPED", "exitCode": 254, "reason": "Error"},
    ]

    lambdas.invoke("task_events", event)
    _, final = lambdas.call("GET", f"/executions/{execution['execution_id']}", lambdas.alice_key)

    assert final["status"] == "FAILED"
    assert final["reason"] == (
        "could not unseal the env values: prepare exited with code 254 (Error): "
        "An error occurred (AccessDeniedException) when calling the Decrypt operation: no grant"
    )
