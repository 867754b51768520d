"""`mycli init` / `mycli destroy` with a fake `cdk` on PATH (it records its arguments and
writes the outputs file) and moto for STS, SSM, DynamoDB, CloudFormation and S3; plus
`mycli init --synth-only` for real."""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner, Result

from moto_aws import REGION
from mycli.main import cli
from orchestrator.adapters.aws.dynamodb import DynamoApiKeyStore
from orchestrator.adapters.aws.settings import AwsSettings
from orchestrator.domain.models import Role
from orchestrator.domain.users import hash_api_key

ROOT = Path(__file__).resolve().parents[2]
FAKE_CDK = """#!{python}
import json, os, sys
with open(os.environ["FAKE_CDK_LOG"], "a") as log:
    log.write(json.dumps({{"args": sys.argv[1:], "region": os.environ.get("AWS_REGION")}}) + "\\n")
if sys.argv[1] == "deploy":
    path = sys.argv[sys.argv.index("--outputs-file") + 1]
    with open(path, "w") as out:
        json.dump({{"Mycli": json.loads(os.environ["FAKE_CDK_OUTPUTS"])}}, out)
sys.exit(int(os.environ.get("FAKE_CDK_EXIT", "0")))
"""


@dataclass
class Deployer:
    home: Path
    env: dict[str, str]

    def run(self, *args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(
            cli, list(args), env=self.env, input=input, catch_exceptions=False
        )

    @property
    def cdk_calls(self) -> list[list[str]]:
        log = self.home / "cdk.log"
        if not log.exists():
            return []
        return [json.loads(line)["args"] for line in log.read_text().splitlines()]

    @property
    def config(self) -> dict[str, Any]:
        return tomllib.loads((self.home / "config" / "mycli" / "config.toml").read_text())


@pytest.fixture
def deployer(aws: AwsSettings, tmp_path: Path) -> Iterator[Deployer]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "cdk"
    fake.write_text(FAKE_CDK.format(python=sys.executable))
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    engine = bin_dir / "docker"  # only looked up: the fake cdk builds nothing
    engine.write_text("#!/bin/sh\nexit 0\n")
    engine.chmod(0o755)
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "cdk.json").write_text('{"app": "python3 app.py"}')
    outputs = {
        "ApiUrl": "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/",
        "ApiKeysTableName": aws.api_keys_table,
        "ExecutionsTableName": aws.executions_table,
        "LocksTableName": aws.locks_table,
        "CodeBucketName": "mycli-code",
        "ClusterName": "mycli",
    }
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "FAKE_CDK_LOG": str(tmp_path / "cdk.log"),
        "FAKE_CDK_OUTPUTS": json.dumps(outputs),
        "MYCLI_PROFILE": "",
    }
    os.chdir(app_dir)
    yield Deployer(tmp_path, env)
    os.chdir(ROOT)


def admin_hashes() -> list[tuple[str, bool]]:
    store = DynamoApiKeyStore(boto3.client("dynamodb", region_name=REGION), "APIKeys")
    return [(r.api_key_hash, r.revoked) for r in store.list_all() if r.role is Role.ADMIN]


def bootstrap() -> None:
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/cdk-bootstrap/hnb659fds/version", Value="28", Type="String"
    )


def test_init_bootstraps_deploys_creates_an_admin_and_writes_the_aws_profile(
    deployer: Deployer,
) -> None:
    result = deployer.run("init", "--no-doctor")

    assert result.exit_code == 0, result.stderr
    calls = deployer.cdk_calls
    assert calls[0] == ["bootstrap", "aws://123456789012/eu-west-1"]
    assert calls[1][:4] == ["deploy", "Mycli", "--require-approval", "never"]
    assert calls[1][4] == "--outputs-file"
    profile = deployer.config["profiles"]["aws"]
    assert deployer.config["current_profile"] == "aws"
    assert profile["api_url"] == "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"
    assert admin_hashes() == [(hash_api_key(profile["api_key"]), False)]
    assert result.stdout.count(profile["api_key"]) == 1
    assert "next: `mycli whoami`" in result.stderr


def test_init_again_keeps_the_admin_and_skips_the_bootstrap(deployer: Deployer) -> None:
    deployer.run("init", "--no-doctor")
    first_key = deployer.config["profiles"]["aws"]["api_key"]
    bootstrap()

    again = deployer.run("init", "--no-doctor")

    assert again.exit_code == 0, again.stderr
    assert [call[0] for call in deployer.cdk_calls] == ["bootstrap", "deploy", "deploy"]
    assert deployer.config["profiles"]["aws"]["api_key"] == first_key
    assert "mycli_" not in again.stdout
    assert len(admin_hashes()) == 1


def test_rotating_the_admin_key_revokes_the_old_one(deployer: Deployer) -> None:
    bootstrap()
    deployer.run("init", "--no-doctor")
    old_key = deployer.config["profiles"]["aws"]["api_key"]

    rotated = deployer.run("init", "--rotate-admin-key", "--no-doctor")

    new_key = deployer.config["profiles"]["aws"]["api_key"]
    assert rotated.exit_code == 0
    assert new_key != old_key
    assert sorted(admin_hashes()) == sorted(
        [(hash_api_key(old_key), True), (hash_api_key(new_key), False)]
    )


def test_a_failed_deploy_stops_with_its_exit_code_and_writes_nothing(deployer: Deployer) -> None:
    bootstrap()
    deployer.env["FAKE_CDK_EXIT"] = "3"

    result = deployer.run("init", "--no-doctor")

    assert result.exit_code == 1
    assert result.stderr.strip().endswith("failed (exit 3)")
    assert not (deployer.home / "config" / "mycli" / "config.toml").exists()
    assert admin_hashes() == []


def test_a_missing_container_engine_is_named_before_anything_is_deployed(
    deployer: Deployer,
) -> None:
    deployer.env["CDK_DOCKER"] = "no-such-engine"

    result = deployer.run("init", "--no-doctor")

    assert result.exit_code == 1
    assert "no container engine ('no-such-engine' is not on PATH)" in result.stderr
    assert "install Docker" in result.stderr
    assert deployer.cdk_calls == []


def test_synth_only_needs_no_container_engine(deployer: Deployer) -> None:
    deployer.env["CDK_DOCKER"] = "no-such-engine"

    result = deployer.run("init", "--synth-only")

    assert result.exit_code == 0, result.stderr
    assert [call[0] for call in deployer.cdk_calls] == ["synth"]


def test_missing_credentials_are_named(deployer: Deployer, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    empty = deployer.home / "empty"
    empty.write_text("")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv(
        "AWS_EC2_METADATA_DISABLED", "true"
    )  # never ask the instance metadata service

    result = deployer.run("init", "--no-doctor")

    assert result.exit_code == 1
    assert "no usable AWS credentials" in result.stderr
    assert deployer.cdk_calls == []


def test_a_missing_region_is_named(deployer: Deployer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    empty = deployer.home / "empty"
    empty.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))

    result = deployer.run("init", "--no-doctor")

    assert result.exit_code == 1
    assert "no AWS region: pass --region" in result.stderr


def test_destroy_asks_first_and_keeps_the_data(deployer: Deployer) -> None:
    refused = deployer.run("destroy", input="n\n")
    assert refused.exit_code == 1
    assert deployer.cdk_calls == []

    done = deployer.run("destroy", "--yes")

    assert done.exit_code == 0
    assert deployer.cdk_calls == [["destroy", "Mycli", "--force"]]
    assert "kept with their data" in done.stderr
    assert "APIKeys" in boto3.client("dynamodb", region_name=REGION).list_tables()["TableNames"]


def test_destroy_purge_deletes_the_retained_tables_and_buckets(deployer: Deployer) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName="Mycli",
        TemplateBody=json.dumps(
            {
                "Resources": {
                    "Keys": {
                        "Type": "AWS::DynamoDB::Table",
                        "Properties": {
                            "TableName": "PurgeMe",
                            "BillingMode": "PAY_PER_REQUEST",
                            "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
                            "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}],
                        },
                    },
                    "Code": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "purge-me"}},
                }
            }
        ),
    )
    s3.put_object(Bucket="purge-me", Key="uploads/x.tgz", Body=b"data")

    result = deployer.run("destroy", "--purge", "--yes")

    assert result.exit_code == 0, result.stderr
    assert "PurgeMe" not in boto3.client("dynamodb", region_name=REGION).list_tables()["TableNames"]
    assert "purge-me" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


@pytest.mark.skipif(
    not (ROOT / "node_modules" / ".bin" / "cdk").exists() or not shutil.which("node"),
    reason="the CDK CLI is installed by scripts/setup (npm)",
)
def test_init_synth_only_synthesizes_for_real(tmp_path: Path) -> None:
    env = {
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    result = CliRunner().invoke(
        cli, ["init", "--synth-only", "--app-dir", str(ROOT)], env=env, catch_exceptions=False
    )

    assert result.exit_code == 0, result.stderr
    template = json.loads((ROOT / "cdk.out" / "Mycli.template.json").read_text())
    assert "ApiUrl" in template["Outputs"]
    assert not (tmp_path / "config").exists()


def test_init_runs_the_doctor_on_the_new_profile_and_fails_if_it_fails(
    deployer: Deployer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mycli.commands import doctor

    seen: list[str] = []

    def fake_doctor(app: Any, timeout: float) -> bool:
        seen.append(app.client().api_url)
        return False

    monkeypatch.setattr(doctor, "run_doctor", fake_doctor)
    bootstrap()

    result = deployer.run("init")

    assert seen == ["https://abc123.execute-api.eu-west-1.amazonaws.com/prod"]
    assert result.exit_code == 1
    assert "deployed, but `mycli doctor` failed" in result.stderr


def test_init_passes_context_values_and_keeps_api_logging_off_by_default(
    deployer: Deployer,
) -> None:
    bootstrap()

    result = deployer.run("init", "--no-doctor", "-c", "mycli:existingLocksTable=Old-Locks")

    assert result.exit_code == 0, result.stderr
    deploy = deployer.cdk_calls[-1]
    assert deploy[6:] == [
        "--context",
        "mycli:apiLogging=off",
        "--context",
        "mycli:existingLocksTable=Old-Locks",
    ]
    assert deployer.run("init", "-c", "nonsense").exit_code == 2


def test_init_logs_the_api_through_a_cloudwatch_role_the_account_already_has(
    deployer: Deployer,
) -> None:
    bootstrap()
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="apigw-logs", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    boto3.client("apigateway", region_name=REGION).update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role}]
    )

    deployer.run("init", "--no-doctor")

    assert "mycli:apiLogging=existing-role" in deployer.cdk_calls[-1]


def test_ssm_errors_other_than_not_found_are_one_line(
    deployer: Deployer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    from mycli import aws_deploy

    real_session = aws_deploy.boto3_session

    class DeniedSsm:
        def get_parameter(self, **_: Any) -> None:
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}},
                "GetParameter",
            )

    def session(region: str | None) -> Any:
        inner = real_session(region)

        class Session:
            region_name = inner.region_name

            def client(self, name: str) -> Any:
                return DeniedSsm() if name == "ssm" else inner.client(name)

        return Session()

    monkeypatch.setattr(aws_deploy, "boto3_session", session)

    result = deployer.run("init", "--no-doctor")

    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()[-1:]
    assert line.startswith("mycli: error: cannot tell whether the CDK is bootstrapped here")
    assert "AccessDeniedException" in line
    assert "Traceback" not in result.stderr
    assert deployer.cdk_calls == []


def test_destroy_stops_running_tasks_first_and_says_how_to_reattach_the_data(
    deployer: Deployer, aws: AwsSettings
) -> None:
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    cloudformation.create_stack(
        StackName="Mycli",
        TemplateBody=json.dumps(
            {
                "Resources": {
                    "ExecutorCluster1A2B": {
                        "Type": "AWS::ECS::Cluster",
                        "Properties": {"ClusterName": "mycli-doomed"},
                    },
                    "DataApiKeys5C6D": {
                        "Type": "AWS::DynamoDB::Table",
                        "Properties": {
                            "TableName": "Mycli-DataApiKeys-XYZ",
                            "BillingMode": "PAY_PER_REQUEST",
                            "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
                            "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}],
                        },
                    },
                }
            }
        ),
    )
    ecs = boto3.client("ecs", region_name=REGION)
    [task] = ecs.run_task(
        cluster="mycli-doomed",
        taskDefinition=aws.task_definition,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": list(aws.subnets),
                "securityGroups": list(aws.security_groups),
            }
        },
    )["tasks"]

    result = deployer.run("destroy", "--yes")

    assert result.exit_code == 0, result.stderr
    [stopped] = ecs.describe_tasks(cluster="mycli-doomed", tasks=[task["taskArn"]])["tasks"]
    assert (stopped["lastStatus"], stopped["stoppedReason"]) == ("STOPPED", "mycli destroy")
    assert "stopping 1 running task of mycli-doomed" in result.stderr
    assert "mycli init -c mycli:existingApiKeysTable=Mycli-DataApiKeys-XYZ" in result.stderr
    assert deployer.cdk_calls == [["destroy", "Mycli", "--force"]]
