"""Secrets through the Lambda handlers on moto: SSM SecureString under the stack's path,
admin only, and a run's secrets sealed into its task's inputs, never in RunTask's request,
the task description, the record or a response."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.client
import pytest

from lambda_harness import Lambdas
from moto_aws import REGION, SECRETS_PATH
from orchestrator.adapters.aws.task_layout import manifest_key
from orchestrator.agent.manifest import Unsealed, parse_unsealed

VALUE = "Aws-Secret-Value-8080"

Calls = list[tuple[str, dict[str, Any]]]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Calls]:
    """Every AWS API call the functions make, with its parameters as sent."""
    made: Calls = []
    original = botocore.client.BaseClient._make_api_call

    def recording(client: Any, operation: str, params: dict[str, Any]) -> Any:
        made.append((operation, params))
        return original(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    yield made


def put(lambdas: Lambdas, name: str, key: str, **body: Any) -> tuple[int, Any]:
    return lambdas.call("PUT", f"/secrets/{name}", key, body={"value": VALUE, **body})


def test_a_secret_is_a_securestring_under_the_stacks_path_with_its_key(lambdas: Lambdas) -> None:
    status, stored = put(lambdas, "db.password", lambdas.admin_key, images=["psql"])

    ssm = boto3.client("ssm", region_name=REGION)
    described = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Path", "Option": "Recursive", "Values": ["/mycli"]}]
    )["Parameters"]
    kinds = {p["Name"]: (p["Type"], p.get("KeyId")) for p in described}
    assert status == 200 and stored["version"] == 1
    assert kinds == {
        f"{SECRETS_PATH}secrets/db.password": ("SecureString", lambdas.settings.secrets_key),
        f"{SECRETS_PATH}secret-meta/db.password": ("String", None),
    }
    meta = ssm.get_parameter(Name=f"{SECRETS_PATH}secret-meta/db.password")["Parameter"]
    assert VALUE not in meta["Value"]
    assert json.loads(meta["Value"])["images"] == ["psql"]


def test_admins_list_and_delete_and_users_are_refused(lambdas: Lambdas) -> None:
    put(lambdas, "token", lambdas.admin_key, description="ci")
    put(lambdas, "token", lambdas.admin_key, description="ci, rotated")

    responses = [
        lambdas.call("GET", "/secrets", lambdas.admin_key),
        put(lambdas, "token", lambdas.alice_key),
        lambdas.call("GET", "/secrets", lambdas.alice_key),
        lambdas.call("DELETE", "/secrets/token", lambdas.alice_key),
        lambdas.call("DELETE", "/secrets/token", lambdas.admin_key),
        lambdas.call("DELETE", "/secrets/token", lambdas.admin_key),
        lambdas.call("GET", "/secrets", lambdas.admin_key),
    ]

    assert [status for status, _ in responses] == [200, 403, 403, 403, 200, 404, 200]
    listed = responses[0][1]["items"]
    assert [(s["name"], s["description"], s["version"]) for s in listed] == [
        ("token", "ci, rotated", 2)
    ]
    assert responses[-1][1]["items"] == []
    assert VALUE not in json.dumps(responses)


def test_a_runs_secrets_are_sealed_for_its_task_and_in_no_request_description_or_record(
    lambdas: Lambdas, calls: Calls
) -> None:
    put(lambdas, "db.password", lambdas.admin_key)
    calls.clear()

    status, execution = lambdas.call(
        "POST",
        "/executions",
        lambdas.alice_key,
        body={
            "command": "psql",
            "env": {"STAGE": "blue"},
            "secrets": {"PGPASSWORD": "db.password"},
        },
    )

    assert status == 202, execution
    assert execution["secret_names"] == ["PGPASSWORD=db.password"]
    [run_task] = [params for operation, params in calls if operation == "RunTask"]
    ecs = boto3.client("ecs", region_name=REGION)
    [task] = ecs.describe_tasks(cluster=lambdas.settings.cluster, tasks=[execution["task_ref"]])[
        "tasks"
    ]
    stored = json.dumps(boto3.client("dynamodb", region_name=REGION).scan(TableName="Executions"))
    assert run_task["taskDefinition"] == lambdas.settings.task_definition
    for text in (
        json.dumps(run_task),
        json.dumps(task, default=str),
        stored,
        json.dumps(execution),
    ):
        assert VALUE not in text
    # The operators' copy is the agent's stream (it masks, and never logs a value).
    task_id = execution["task_ref"].rsplit("/", 1)[-1]
    assert execution["log_stream_name"] == f"exec/agent/{task_id}"
    # Only the task (through its grant) can open them: sealed with the run's context.
    s3 = boto3.client("s3", region_name=REGION)
    manifest = json.loads(
        s3.get_object(Bucket="mycli-code", Key=manifest_key(execution["execution_id"]))[
            "Body"
        ].read()
    )
    assert VALUE not in json.dumps(manifest)
    kms = boto3.client("kms", region_name=REGION)

    def unseal(pieces: list[str]) -> bytes:
        return b"".join(
            kms.decrypt(
                CiphertextBlob=base64.b64decode(piece),
                EncryptionContext={"execution_id": execution["execution_id"]},
            )["Plaintext"]
            for piece in pieces
        )

    assert parse_unsealed(unseal(manifest["sealed"])) == Unsealed(
        env={"STAGE": "blue", "PGPASSWORD": VALUE}, mask=[VALUE], git_credential=None
    )


@pytest.mark.parametrize(
    ("secrets", "words"),
    [
        ({"DB": "missing"}, "no such secret: missing"),
        ({"DB": "restricted"}, "restricted to images: terraform"),
    ],
)
def test_a_refused_secret_is_400_before_any_lock_or_task(
    lambdas: Lambdas, calls: Calls, secrets: dict[str, str], words: str
) -> None:
    put(lambdas, "restricted", lambdas.admin_key, images=["terraform"])
    calls.clear()

    status, answer = lambdas.call(
        "POST",
        "/executions",
        lambdas.alice_key,
        body={"command": "true", "lock": "prod", "secrets": secrets},
    )

    assert status == 400 and words in answer["error"]["message"]
    operations = {operation for operation, _ in calls}
    assert "RunTask" not in operations and "PutItem" not in operations
    assert lambdas.call("GET", "/locks", lambdas.alice_key)[1]["locks"] == []


def test_writes_and_uses_are_logged_without_the_value_and_no_body_is_logged(
    lambdas: Lambdas, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    # Functions log at INFO (Lambda's application log level); Powertools' and our own
    # loggers are watched even at DEBUG (the resolver's debug log prints parsed bodies).
    caplog.set_level(logging.INFO)
    for name in ("aws_lambda_powertools", "orchestrator"):
        caplog.set_level(logging.DEBUG, logger=name)
    put(lambdas, "db.password", lambdas.admin_key)
    _, execution = lambdas.call(
        "POST",
        "/executions",
        lambdas.alice_key,
        body={"command": "true", "secrets": {"DB": "db.password"}},
    )
    lambdas.call("DELETE", "/secrets/db.password", lambdas.admin_key)

    messages = [record.getMessage() for record in caplog.records]
    assert "secret db.password set (version 1) by admin@example.com" in messages
    assert f"execution {execution['execution_id']} uses secrets db.password (version 1)" in messages
    assert "secret db.password deleted" in messages
    [use] = [r for r in caplog.records if getattr(r, "execution_id", None)]
    assert use.secrets == {"db.password": 1}  # type: ignore[attr-defined]
    captured = capsys.readouterr()
    everything = " ".join(messages) + captured.out + captured.err
    index = everything.find(VALUE)
    assert VALUE not in everything, everything[max(0, index - 600) : index + 100]
    assert VALUE not in json.dumps([r.__dict__ for r in caplog.records], default=str)
