"""Every route's Lambda handler, driven with API Gateway REST events against moto, with the
same authorization cases as the embedded e2e tests."""

from __future__ import annotations

import base64
import json
import time
import urllib.request
from typing import Any

import boto3
import pytest

from archives import member, tarball
from events import ecs_task_event
from lambda_harness import Lambdas
from moto_aws import REGION
from orchestrator.adapters.aws.s3_results import result_key
from orchestrator.adapters.aws.s3_uploads import user_prefix
from orchestrator.adapters.aws.task_layout import manifest_key
from orchestrator.agent.layout import AGENT_CONTAINER
from orchestrator.agent.manifest import parse_unsealed
from orchestrator.handlers.catalog import ROUTES
from orchestrator.output_segments import (
    EndMarker,
    Segment,
    SegmentChunk,
    encode_end,
    encode_segment,
    end_key,
    segment_key,
    timestamp_of,
)


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
    assert len(modules) == len(set(modules)) == 26


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
    assert [lock["holder"]["execution_id"] for lock in locks["locks"]] == [
        execution["execution_id"]
    ]


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
    assert lambdas.call("GET", "/locks", lambdas.alice_key)[1]["locks"] == []


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


def put_segment(execution_id: str, offset: int, *chunks: tuple[str, bytes]) -> int:
    """Store one output segment as the run agent writes it; returns where it ends."""
    parts, position = [], offset
    for stream, data in chunks:
        parts.append(SegmentChunk(position, stream, timestamp_of(time.time()), data))
        position += len(data)
    boto3.client("s3", region_name=REGION).put_object(
        Bucket="mycli-code",
        Key=segment_key(execution_id, position),
        Body=encode_segment(Segment(offset, tuple(parts))),
    )
    return position


def test_logs_come_from_the_runs_segments_in_s3_with_exact_bytes_and_streams(
    lambdas: Lambdas,
) -> None:
    execution = start(lambdas, lambdas.alice_key)
    path = f"/executions/{execution['execution_id']}/logs"
    assert lambdas.call("GET", path, lambdas.alice_key)[1]["chunks"] == []

    end = put_segment(execution["execution_id"], 0, ("stdout", b"step 0\r"), ("stderr", b"\xff!"))
    end = put_segment(execution["execution_id"], end, ("stdout", b"no newline"))
    started = time.monotonic()
    _, page = lambdas.call("GET", path, lambdas.alice_key, query={"wait": "20"})
    _, after = lambdas.call(
        "GET", path, lambdas.alice_key, query={"cursor": page["next_cursor"], "wait": "20"}
    )

    chunks = [(c["stream"], base64.b64decode(c["data"])) for c in page["chunks"]]
    assert chunks == [("stdout", b"step 0\r"), ("stderr", b"\xff!"), ("stdout", b"no newline")]
    assert page["next_cursor"] == str(end) and after["chunks"] == []
    assert (page["status"], page["complete"], page["truncated_at"]) == ("STARTING", False, None)
    assert time.monotonic() - started < 10  # a function never waits for output


def test_an_ended_runs_log_is_complete_with_its_end_marker(lambdas: Lambdas) -> None:
    execution = start(lambdas, lambdas.alice_key)
    end = put_segment(execution["execution_id"], 0, ("stdout", b"cut here"))
    boto3.client("s3", region_name=REGION).put_object(
        Bucket="mycli-code",
        Key=end_key(execution["execution_id"]),
        Body=encode_end(EndMarker(total=end, truncated_at=end)),
    )
    put_result(execution, exit_code=0, truncated_at=end)
    lambdas.invoke("task_events", stop_event(lambdas, execution, exit_code=0))

    path = f"/executions/{execution['execution_id']}/logs"
    _, page = lambdas.call("GET", path, lambdas.alice_key)
    _, record = lambdas.call("GET", f"/executions/{execution['execution_id']}", lambdas.alice_key)

    assert [base64.b64decode(c["data"]) for c in page["chunks"]] == [b"cut here"]
    assert (page["status"], page["complete"], page["truncated_at"]) == ("SUCCEEDED", True, 8)
    assert record["log_truncated_at"] == 8


def test_the_completing_page_carries_the_records_exit_code_and_reason(
    lambdas: Lambdas,
) -> None:
    # Given a run that wrote its output and exited 3, as the task events record it
    execution = start(lambdas, lambdas.alice_key)
    end = put_segment(execution["execution_id"], 0, ("stdout", b"bye"))
    boto3.client("s3", region_name=REGION).put_object(
        Bucket="mycli-code",
        Key=end_key(execution["execution_id"]),
        Body=encode_end(EndMarker(total=end, truncated_at=None)),
    )
    put_result(execution, exit_code=3)
    lambdas.invoke("task_events", stop_event(lambdas, execution, exit_code=3))

    # When the logs are read as JSON and as binary
    path = f"/executions/{execution['execution_id']}/logs"
    _, page = lambdas.call("GET", path, lambdas.alice_key)
    binary = lambdas.answer(
        "GET", path, lambdas.alice_key, headers={"Accept": "application/octet-stream"}
    )
    head = json.loads(base64.b64decode(binary["body"]).partition(b"\n")[0])

    # Then both say how it ended, as the execution's record (DynamoDB) does
    fields = ("status", "complete", "exit_code", "reason")
    expected = ("FAILED", True, 3, "exited with code 3")
    assert tuple(page[f] for f in fields) == tuple(head[f] for f in fields) == expected


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


def put_result(execution: dict[str, Any], **result: Any) -> None:
    """The run agent's result object, as it writes it when the run ends."""
    document = {"v": 1, "exit_code": None, "git_commit": None, "failure": None} | result
    boto3.client("s3", region_name=REGION).put_object(
        Bucket="mycli-code",
        Key=result_key(execution["execution_id"]),
        Body=json.dumps(document).encode(),
    )


def agent_stopped_event(
    lambdas: Lambdas, execution: dict[str, Any], agent: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    event = stop_event(lambdas, execution, **fields)
    event["detail"]["containers"].append({"name": AGENT_CONTAINER, "lastStatus": "STOPPED"} | agent)
    return event


def test_task_events_settle_the_execution_and_free_the_lock(lambdas: Lambdas) -> None:
    execution = start(lambdas, lambdas.alice_key, lock="prod")
    put_result(execution, exit_code=3)
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
    assert lambdas.call("GET", "/locks", lambdas.alice_key)[1]["locks"] == []


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
    assert lambdas.call("GET", "/locks", lambdas.alice_key)[1]["locks"] == []


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
    assert lambdas.call("GET", "/locks", lambdas.alice_key)[1]["locks"] == []


def test_the_reaper_fails_executions_whose_task_is_lost(lambdas: Lambdas) -> None:
    from orchestrator.handlers import runtime

    execution = start(lambdas, lambdas.alice_key, lock="prod")
    phantom = lambdas.settings.cluster.replace(":cluster/", ":task/") + "/" + "0" * 32
    runtime.ports().executions.annotate(execution["execution_id"], task_ref=phantom)

    report = lambdas.invoke("reaper", {"source": "aws.events", "detail-type": "Scheduled Event"})
    _, final = lambdas.call("GET", f"/executions/{execution['execution_id']}", lambdas.alice_key)

    assert report["lost"] == [execution["execution_id"]]
    assert (final["status"], final["reason"]) == ("FAILED", "task lost")
    assert lambdas.call("GET", "/locks", lambdas.alice_key)[1]["locks"] == []


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


def test_an_upload_goes_to_the_users_prefix_and_its_url_into_the_manifest(
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
    assert task["taskDefinitionArn"] == lambdas.settings.task_definition
    manifest = read_manifest(execution["execution_id"])
    key = f"{user_prefix('alice@example.com')}{slot['upload_id']}.tar.gz"
    assert f"/{key}?" in manifest["upload_url"]
    with urllib.request.urlopen(manifest["upload_url"], timeout=10) as fetched:
        assert fetched.read() == archive
    assert "MYCLI_UPLOAD_KEY" not in json.dumps(task["overrides"])


def test_the_agents_result_gives_the_exit_code_and_commit_over_the_events(
    lambdas: Lambdas,
) -> None:
    execution = start(lambdas, lambdas.alice_key, lock="prod")
    put_result(execution, exit_code=7, git_commit="a" * 40)

    lambdas.invoke("task_events", stop_event(lambdas, execution, exit_code=0))
    _, final = lambdas.call("GET", f"/executions/{execution['execution_id']}", lambdas.alice_key)

    assert (final["status"], final["exit_code"], final["reason"]) == (
        "FAILED",
        7,
        "exited with code 7",
    )
    assert final["git_commit"] == "a" * 40
    assert lambdas.call("GET", "/locks", lambdas.alice_key)[1]["locks"] == []


def test_a_failure_the_agent_reports_fails_the_run_with_its_reason(lambdas: Lambdas) -> None:
    execution = start(lambdas, lambdas.alice_key, lock="prod")
    put_result(execution, failure="upload refused: path leaves the directory")
    event = agent_stopped_event(lambdas, execution, {"exitCode": 0}, exit_code=125)

    lambdas.invoke("task_events", event)
    _, final = lambdas.call("GET", f"/executions/{execution['execution_id']}", lambdas.alice_key)

    assert (final["status"], final["reason"]) == (
        "FAILED",
        "upload refused: path leaves the directory",
    )
    assert lambdas.call("GET", "/locks", lambdas.alice_key)[1]["locks"] == []


@pytest.mark.parametrize(
    ("agent", "reason"),
    [
        ({"exitCode": 4}, "the run agent stopped (exit code 4: it failed)"),
        (
            {"exitCode": 5},
            "the run agent stopped (exit code 5: the output store refused a write)",
        ),
        ({"exitCode": 137}, "the run agent stopped (exit code 137)"),
        (
            {"exitCode": 137, "reason": "OutOfMemoryError"},
            "the run agent stopped (exit code 137: OutOfMemoryError)",
        ),
        (
            {"reason": "CannotStartContainerError"},
            "the run agent stopped (CannotStartContainerError)",
        ),
    ],
)
def test_without_a_result_a_dead_agent_fails_the_run_never_with_the_commands_code(
    lambdas: Lambdas, agent: dict[str, Any], reason: str
) -> None:
    execution = start(lambdas, lambdas.alice_key, lock="prod")
    event = agent_stopped_event(
        lambdas, execution, agent, exit_code=141, stop_code="EssentialContainerExited"
    )

    lambdas.invoke("task_events", event)
    _, final = lambdas.call("GET", f"/executions/{execution['execution_id']}", lambdas.alice_key)

    assert (final["status"], final["exit_code"], final["reason"]) == ("FAILED", None, reason)
    assert lambdas.call("GET", "/locks", lambdas.alice_key)[1]["locks"] == []


def test_without_a_result_a_cancelled_run_is_cancelled_and_a_timed_out_one_timed_out(
    lambdas: Lambdas,
) -> None:
    cancelled = start(lambdas, lambdas.alice_key)
    timed_out = start(lambdas, lambdas.alice_key)
    assert (
        lambdas.call("POST", f"/executions/{cancelled['execution_id']}/cancel", lambdas.alice_key)[
            0
        ]
        == 202
    )

    for execution, fields in (
        (cancelled, {"stop_code": "UserInitiated", "stopped_reason": "cancelled by alice"}),
        (timed_out, {"stop_code": "UserInitiated", "stopped_reason": "mycli: timed out after 9s"}),
    ):
        event = agent_stopped_event(lambdas, execution, {"exitCode": 137}, exit_code=143, **fields)
        lambdas.invoke("task_events", event)
    finals = [
        lambdas.call("GET", f"/executions/{e['execution_id']}", lambdas.alice_key)[1]
        for e in (cancelled, timed_out)
    ]

    assert [(f["status"], f["exit_code"]) for f in finals] == [
        ("CANCELLED", 143),
        ("TIMED_OUT", 124),  # GNU timeout's code, whatever signal stopped the command
    ]


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
    assert task["taskDefinitionArn"] == lambdas.settings.task_definition
    assert "p@ss" not in overrides and "blue" not in overrides
    assert "p@ss" not in stored and "blue" not in stored
    assert execution["env_names"] == ["DB_PASSWORD", "STAGE"]

    manifest = read_manifest(execution["execution_id"])
    assert "p@ss" not in json.dumps(manifest) and "blue" not in json.dumps(manifest)
    kms = boto3.client("kms", region_name=REGION)
    [grant] = kms.list_grants(KeyId=lambdas.settings.env_key)["Grants"]
    plaintext = b"".join(
        kms.decrypt(
            CiphertextBlob=base64.b64decode(piece),
            EncryptionContext={"execution_id": execution["execution_id"]},
            GrantTokens=[manifest["grant_token"]],
        )["Plaintext"]
        for piece in manifest["sealed"]
    )
    assert grant["GranteePrincipal"] == lambdas.settings.task_role_arn
    assert grant["Operations"] == ["Decrypt"]
    assert grant["Constraints"] == {
        "EncryptionContextEquals": {"execution_id": execution["execution_id"]}
    }
    unsealed = parse_unsealed(plaintext)
    assert unsealed.env == {"DB_PASSWORD": "p@ss w'rd", "STAGE": "blue"}
    assert unsealed.mask == [] and unsealed.git_credential is None
    assert manifest["command"] == "deploy"
    assert "deploy" not in overrides


def read_manifest(execution_id: str) -> dict[str, Any]:
    s3 = boto3.client("s3", region_name=REGION)
    body = s3.get_object(Bucket="mycli-code", Key=manifest_key(execution_id))["Body"].read()
    manifest: dict[str, Any] = json.loads(body)
    return manifest
