"""Runs' KMS grants on moto, through the functions' handlers: none outlives its run. A launch
that fails revokes the grant it made, the end of a run revokes its grant whatever ended it
(its task's event, the reaper, a cancel before the agent unsealed), a grant the agent
already retired is no error, and the reaper sweeps the grants older than the longest
timeout. The grant's id is stored with the execution, never shown."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ecs.models import ecs_backends

from events import ecs_task_event
from fakes import FakeClock
from lambda_harness import Lambdas, reset_runtime
from moto_aws import REGION, TASK_ROLE_ARN
from orchestrator.adapters.aws.kms_env import KmsEnvSealer
from orchestrator.adapters.aws.kms_grants import RunGrants, run_grant_made_at
from orchestrator.adapters.aws.task_layout import manifest_key
from orchestrator.agent.manifest import Unsealed, parse_manifest
from orchestrator.domain.models import MAX_TIMEOUT_SECONDS
from orchestrator.domain.reaper import LEFTOVER_MARGIN

WITH_ENV = {"command": "make deploy", "env": {"TOKEN": "t0k3n"}, "lock": "prod"}


def kms() -> Any:
    return boto3.client("kms", region_name=REGION)


def grants(lambdas: Lambdas) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = kms().list_grants(KeyId=lambdas.settings.env_key)["Grants"]
    return listed


def create(lambdas: Lambdas, body: dict[str, Any] = WITH_ENV) -> dict[str, Any]:
    status, execution = lambdas.call("POST", "/executions", lambdas.alice_key, body=body)
    assert status == 202, execution
    return dict(execution)


def stored_item(lambdas: Lambdas, execution_id: str) -> dict[str, Any]:
    [item] = boto3.client("dynamodb", region_name=REGION).query(
        TableName=lambdas.settings.executions_table,
        KeyConditionExpression="execution_id = :id",
        ExpressionAttributeValues={":id": {"S": execution_id}},
    )["Items"]
    return dict(item)


def stopped_event(lambdas: Lambdas, execution: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return ecs_task_event(
        task_arn=execution["task_ref"],
        cluster_arn=lambdas.settings.cluster,
        started_by=execution["execution_id"],
        last_status="STOPPED",
        **fields,
    )


def final(lambdas: Lambdas, execution: dict[str, Any]) -> dict[str, Any]:
    path = f"/executions/{execution['execution_id']}"
    status, body = lambdas.call("GET", path, lambdas.alice_key)
    assert status == 200
    return dict(body)


def test_a_runs_grant_id_is_stored_with_it_and_never_shown(lambdas: Lambdas) -> None:
    execution = create(lambdas)

    [grant] = grants(lambdas)
    assert stored_item(lambdas, execution["execution_id"])["grant_id"] == {"S": grant["GrantId"]}
    assert grant["Name"].startswith(f"mycli-{execution['execution_id']}-")
    for shown in (execution, final(lambdas, execution)):
        assert "grant_id" not in shown
        assert grant["GrantId"] not in json.dumps(shown)


@pytest.mark.parametrize(
    ("variable", "broken"),
    [
        ("TASK_DEFINITION_ARN", "missing-family:1"),  # RunTask refused
        ("CODE_BUCKET", "no-such-bucket"),  # the manifest cannot be stored after the grant
    ],
)
def test_a_launch_that_fails_after_its_grant_was_made_revokes_it(
    lambdas: Lambdas, monkeypatch: pytest.MonkeyPatch, variable: str, broken: str
) -> None:
    monkeypatch.setenv(variable, broken)
    reset_runtime()

    execution = create(lambdas)

    assert (execution["status"], execution["reason"][:17]) == ("FAILED", "failed to start: ")
    assert grants(lambdas) == []


def test_a_run_ended_by_its_task_event_has_its_grant_revoked(lambdas: Lambdas) -> None:
    execution = create(lambdas)

    lambdas.invoke("task_events", stopped_event(lambdas, execution, stop_code="TaskFailedToStart"))

    assert final(lambdas, execution)["status"] == "FAILED"
    assert grants(lambdas) == []


def test_a_run_cancelled_before_its_agent_unsealed_has_its_grant_revoked(
    lambdas: Lambdas,
) -> None:
    execution = create(lambdas)
    path = f"/executions/{execution['execution_id']}/cancel"
    assert lambdas.call("POST", path, lambdas.alice_key)[0] == 202

    lambdas.invoke(
        "task_events",
        stopped_event(
            lambdas,
            execution,
            stop_code="UserInitiated",
            stopped_reason="cancelled by alice@example.com",
            exit_code=143,
        ),
    )

    assert final(lambdas, execution)["status"] == "CANCELLED"
    assert grants(lambdas) == []


def test_a_run_ended_by_the_reaper_has_its_grant_revoked(lambdas: Lambdas) -> None:
    execution = create(lambdas)
    cluster = lambdas.settings.cluster.rsplit("/", 1)[-1]
    del ecs_backends[DEFAULT_ACCOUNT_ID][REGION].tasks[cluster][execution["task_ref"]]

    report = lambdas.invoke("reaper", {})

    assert report["lost"] == [execution["execution_id"]]
    assert final(lambdas, execution)["reason"] == "task lost"
    assert grants(lambdas) == []


def test_a_grant_the_agent_already_retired_ends_its_run_as_usual(lambdas: Lambdas) -> None:
    execution = create(lambdas)
    manifest = parse_manifest(
        boto3.client("s3", region_name=REGION)
        .get_object(
            Bucket=lambdas.settings.code_bucket, Key=manifest_key(execution["execution_id"])
        )["Body"]
        .read()
    )
    kms().retire_grant(GrantToken=manifest.grant_token)  # as the agent does once unsealed

    lambdas.invoke(
        "task_events",
        stopped_event(lambdas, execution, stop_code="EssentialContainerExited", exit_code=0),
    )

    assert final(lambdas, execution)["status"] == "SUCCEEDED"
    assert grants(lambdas) == []
    item = stored_item(lambdas, execution["execution_id"])
    RunGrants(kms(), lambdas.settings.env_key).revoke(item["grant_id"]["S"])  # and again: fine


def seal_at(lambdas: Lambdas, execution_id: str, made_at: datetime) -> None:
    KmsEnvSealer(kms(), lambdas.settings.env_key, TASK_ROLE_ARN, clock=FakeClock(made_at)).seal(
        execution_id, Unsealed(env={"A": "b"}, mask=[])
    )


def test_the_reaper_sweeps_grants_older_than_the_longest_timeout_and_no_other(
    lambdas: Lambdas,
) -> None:
    # Given run grants made just before and just after the sweep's age (whose runs are
    # long forgotten), and a grant on the key that this platform did not make
    now = datetime.now(UTC)
    age = timedelta(seconds=MAX_TIMEOUT_SECONDS) + LEFTOVER_MARGIN
    seal_at(lambdas, "0ld", now - age - timedelta(minutes=1))
    seal_at(lambdas, "y0ung", now - age + timedelta(minutes=1))
    kms().create_grant(
        KeyId=lambdas.settings.env_key,
        GranteePrincipal=TASK_ROLE_ARN,
        Operations=["Decrypt"],
        Name="an-operators-own",
    )

    # When the reaper runs
    report = lambdas.invoke("reaper", {})

    # Then only the old run grant is gone
    assert report["swept"] == ["0ld"] and report["sweep_failed"] is False
    assert sorted(g["Name"].rsplit("-", 1)[0] for g in grants(lambdas)) == [
        "an-operators",
        "mycli-y0ung",
    ]


@pytest.mark.parametrize(
    ("grant", "made"),
    [
        (
            {
                "Name": "mycli-abc-1767268800",
                "Constraints": {"EncryptionContextEquals": {"execution_id": "abc"}},
            },
            ("abc", datetime(2026, 1, 1, 12, tzinfo=UTC)),
        ),
        (  # named before the time was in the name: KMS's CreationDate
            {
                "Name": "mycli-abc",
                "Constraints": {"EncryptionContextEquals": {"execution_id": "abc"}},
                "CreationDate": datetime(2025, 5, 1, tzinfo=UTC),
            },
            ("abc", datetime(2025, 5, 1, tzinfo=UTC)),
        ),
        (
            {
                "Name": "mycli-abc-1767268800",
                "Constraints": {"EncryptionContextEquals": {"execution_id": "xyz"}},
            },
            None,
        ),
        (
            {
                "Name": "mycli-abc-1767268800",
                "Constraints": {"EncryptionContextEquals": {"execution_id": "abc", "x": "y"}},
            },
            None,
        ),
        (
            {
                "Name": "mycli-abc-1767268800",
                "Constraints": {"EncryptionContextSubset": {"execution_id": "abc"}},
            },
            None,
        ),
        (
            {
                "Name": "mycli-abc-soon",
                "Constraints": {"EncryptionContextEquals": {"execution_id": "abc"}},
            },
            None,
        ),
        (
            {
                "Name": "mycli-abc",
                "Constraints": {"EncryptionContextEquals": {"execution_id": "abc"}},
            },
            None,
        ),
        (
            {
                "Name": "other-abc-1767268800",
                "Constraints": {"EncryptionContextEquals": {"execution_id": "abc"}},
            },
            None,
        ),
    ],
)
def test_only_grants_named_and_constrained_as_a_runs_are_the_sweeps(
    grant: dict[str, Any], made: tuple[str, datetime] | None
) -> None:
    assert run_grant_made_at({"Operations": ["Decrypt"], **grant}) == made
    assert run_grant_made_at({**grant, "Operations": ["Decrypt", "Encrypt"]}) is None
