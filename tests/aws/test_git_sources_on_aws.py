"""Git sources on AWS (moto): a --git run reaches RunTask with the source in the run's
manifest (version 2) and its credential sealed there with the env values, never in RunTask's
request; the commit the run agent reports reaches the record, and its checkout failure the
reason. The checkout itself is the agent's (shared with the embedded runner, tested there)."""

from __future__ import annotations

import base64
import json
from typing import Any

import boto3

from events import ecs_task_event
from git_repos import PRIVATE_PASSWORD, PRIVATE_USER
from lambda_harness import Lambdas
from moto_aws import REGION
from orchestrator.adapters.aws.clients import AwsClients
from orchestrator.adapters.aws.composition import ecs_tasks
from orchestrator.adapters.aws.s3_results import result_key
from orchestrator.adapters.aws.settings import AwsSettings
from orchestrator.adapters.aws.task_layout import manifest_key
from orchestrator.agent.manifest import parse_unsealed
from orchestrator.domain.models import GitSource, LaunchSpec

CREDENTIAL = f"{PRIVATE_USER}:{PRIVATE_PASSWORD}"
SHA = "0123456789abcdef0123456789abcdef01234567"


def read_manifest(bucket: str, execution_id: str) -> dict[str, Any]:
    s3 = boto3.client("s3", region_name=REGION)
    body = s3.get_object(Bucket=bucket, Key=manifest_key(execution_id))["Body"].read()
    manifest: dict[str, Any] = json.loads(body)
    return manifest


def test_a_git_run_reaches_run_task_with_the_clone_step_and_no_credential(
    aws: AwsSettings,
) -> None:
    # Given the ECS runner, watching what boto3 sends to RunTask
    runner = ecs_tasks(aws, AwsClients())
    requests: list[dict[str, Any]] = []
    runner._ecs.meta.events.register(
        "provide-client-params.ecs.RunTask", lambda params, **_: requests.append(params)
    )
    source = GitSource("https://git.example.com/app.git", "v1", "ops", credential=CREDENTIAL)

    # When a short command with a private git source (and an env value) is launched
    runner.launch(LaunchSpec("e1", "./deploy.sh", {"STAGE": "blue"}, 60, git=source))

    # Then RunTask's request holds no credential; the manifest holds the source, and the
    # credential only sealed, with the env values, under one grant
    [request] = requests
    assert request["taskDefinition"] == aws.task_definition
    assert PRIVATE_PASSWORD not in json.dumps(request)
    assert "./deploy.sh" not in json.dumps(request)
    manifest = read_manifest(aws.code_bucket, "e1")
    assert manifest["git"] == {
        "url": "https://git.example.com/app.git",
        "ref": "v1",
        "subdir": "ops",
    }
    assert PRIVATE_PASSWORD not in json.dumps(manifest)
    kms = boto3.client("kms", region_name=REGION)
    [sealed] = manifest["sealed"]
    plaintext = kms.decrypt(
        CiphertextBlob=base64.b64decode(sealed),
        EncryptionContext={"execution_id": "e1"},
        GrantTokens=[manifest["grant_token"]],
    )["Plaintext"]
    unsealed = parse_unsealed(plaintext)
    assert (unsealed.git_credential, unsealed.env) == (CREDENTIAL, {"STAGE": "blue"})
    assert len(kms.list_grants(KeyId=aws.env_key)["Grants"]) == 1


def start_git_run(lambdas: Lambdas, lock: str, **fields: str) -> dict[str, Any]:
    status, execution = lambdas.call(
        "POST",
        "/executions",
        lambdas.alice_key,
        body={
            "command": "make deploy",
            "lock": lock,
            "git_url": "https://git.example.com/app.git",
            "git_ref": "main",
            **fields,
        },
    )
    assert status == 202, execution
    return execution


def put_result(execution: dict[str, Any], **result: Any) -> None:
    document = {"v": 1, "exit_code": None, "git_commit": None, "failure": None} | result
    boto3.client("s3", region_name=REGION).put_object(
        Bucket="mycli-code",
        Key=result_key(execution["execution_id"]),
        Body=json.dumps(document).encode(),
    )


def task_event(
    lambdas: Lambdas, execution: dict[str, Any], last_status: str, **fields: Any
) -> dict[str, Any]:
    return ecs_task_event(
        task_arn=execution["task_ref"],
        cluster_arn=lambdas.settings.cluster,
        started_by=execution["execution_id"],
        last_status=last_status,
        **fields,
    )


def test_the_agents_commit_is_recorded_and_its_checkout_failure_is_the_reason(
    lambdas: Lambdas,
) -> None:
    # Given a git run with a stored secret whose agent checked out SHA and whose command
    # exited 0, and another whose checkout failed
    status, _ = lambdas.call(
        "PUT", "/secrets/git-token", lambdas.admin_key, body={"value": CREDENTIAL}
    )
    assert status == 200
    checked_out = start_git_run(lambdas, "one", git_secret="git-token")
    failed = start_git_run(lambdas, "two")
    [task] = boto3.client("ecs", region_name=REGION).describe_tasks(
        cluster=lambdas.settings.cluster, tasks=[checked_out["task_ref"]]
    )["tasks"]
    assert PRIVATE_PASSWORD not in json.dumps(task, default=str)
    assert PRIVATE_PASSWORD not in json.dumps(checked_out)
    manifest = read_manifest(lambdas.settings.code_bucket, checked_out["execution_id"])
    assert PRIVATE_PASSWORD not in json.dumps(manifest)
    assert manifest["sealed"] and manifest["git"]["url"] == "https://git.example.com/app.git"
    reason = "git ref 'main' not found in https://git.example.com/app.git"
    put_result(checked_out, exit_code=0, git_commit=SHA)
    put_result(failed, failure=reason)

    # When their STOPPED events arrive
    lambdas.invoke("task_events", task_event(lambdas, checked_out, "STOPPED", exit_code=0))
    lambdas.invoke("task_events", task_event(lambdas, failed, "STOPPED", exit_code=125))

    # Then the first is SUCCEEDED with its commit; the second FAILED with the agent's reason,
    # and both locks are free
    _, done = lambdas.call("GET", f"/executions/{checked_out['execution_id']}", lambdas.alice_key)
    assert (done["status"], done["git_commit"]) == ("SUCCEEDED", SHA)
    _, final = lambdas.call("GET", f"/executions/{failed['execution_id']}", lambdas.alice_key)
    assert (final["status"], final["reason"], final["git_commit"]) == ("FAILED", reason, None)
    assert lambdas.call("GET", "/locks", lambdas.alice_key)[1]["locks"] == []
