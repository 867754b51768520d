"""Standing the AWS deployment up and down: prerequisites, CDK bootstrap, deploy, the first
admin key, the `aws` profile. Used by `mycli init` and `mycli destroy`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mycli.aws_tools import SETUP_COMMAND, PrerequisiteMissing
from mycli.errors import CliError
from mycli.output import counted

STACK_NAME = "Mycli"
BOOTSTRAP_PARAMETER = "/cdk-bootstrap/hnb659fds/version"
OUTPUTS_FILE = "cdk.outputs.json"
DEFAULT_ADMIN_EMAIL = "admin@mycli"
RETAINED_TYPES = ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::Logs::LogGroup")
# Logical id prefixes of the retained resources a redeploy reattaches, and their context keys.
REATTACH_CONTEXT = {
    "DataApiKeys": "mycli:existingApiKeysTable",
    "DataExecutions": "mycli:existingExecutionsTable",
    "DataLocks": "mycli:existingLocksTable",
    "DataCodeBucket": "mycli:existingCodeBucket",
    "ExecutorExecutionLogs": "mycli:existingExecutionLogGroup",
    "DataImages": "mycli:existingImagesTable",
    "DataLockQueue": "mycli:existingLockQueueTable",
    "DataWarmTasks": "mycli:existingWarmTasksTable",
}
TASK_STOP_TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class Target:
    account: str
    region: str


def find_app_dir(explicit: Path | None) -> Path:
    """The directory with the CDK app (cdk.json): given, the current one or a parent, or the
    checkout this mycli was installed from."""
    candidates = [explicit] if explicit else [Path.cwd(), *Path.cwd().parents]
    if not explicit:
        candidates.append(Path(__file__).resolve().parents[2])
    for directory in candidates:
        if directory and (directory / "cdk.json").is_file():
            return directory.resolve()
    where = explicit or Path.cwd()
    raise PrerequisiteMissing(
        f"no CDK app (cdk.json) in {where}: run from the mycli checkout or pass --app-dir"
    )


def find_container_engine(environ: dict[str, str] | None = None) -> str:
    """The container engine CDK builds the run agent's image with: CDK_DOCKER's command if
    set, else `docker`. Deploying needs it; synthesizing does not."""
    engine = (os.environ if environ is None else environ).get("CDK_DOCKER") or "docker"
    found = shutil.which(engine)
    if not found:
        raise PrerequisiteMissing(
            f"no container engine ({engine!r} is not on PATH): the CDK builds the run agent's "
            "image locally; install Docker (or Podman/Finch and set CDK_DOCKER to its command)"
        )
    return found


def boto3_session(region: str | None) -> Any:
    try:
        import boto3
    except ImportError as error:
        raise PrerequisiteMissing(
            f"boto3 is missing: install it with `{SETUP_COMMAND}` (or pip install 'mycli[aws]')"
        ) from error
    return boto3.session.Session(region_name=region) if region else boto3.session.Session()


def resolve_target(session: Any) -> Target:
    """Who and where we deploy: STS says the account; the region must be set."""
    from botocore.exceptions import BotoCoreError, ClientError

    if not session.region_name:
        raise PrerequisiteMissing(
            "no AWS region: pass --region, or set AWS_REGION or a region in your AWS profile"
        )
    try:
        identity = session.client("sts").get_caller_identity()
    except (ClientError, BotoCoreError) as error:
        raise PrerequisiteMissing(
            f"no usable AWS credentials ({error}): configure them with `aws configure`, "
            "AWS_PROFILE or the AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY variables"
        ) from error
    return Target(account=str(identity["Account"]), region=str(session.region_name))


def is_bootstrapped(session: Any) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        session.client("ssm").get_parameter(Name=BOOTSTRAP_PARAMETER)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return False
        raise CliError(
            f"cannot tell whether the CDK is bootstrapped here (SSM {BOOTSTRAP_PARAMETER}): "
            f"{_one_line(error)}"
        ) from error
    except BotoCoreError as error:
        raise CliError(f"cannot reach SSM: {_one_line(error)}") from error
    return True


def api_logging(session: Any) -> str:
    """`existing-role` when API Gateway already has a CloudWatch role in this account and
    region (then the API logs through it), else `off`: mycli never replaces that role
    unless asked (`-c mycli:apiLogging=create-role`)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        account = session.client("apigateway").get_account()
    except (ClientError, BotoCoreError):
        return "off"
    return "existing-role" if account.get("cloudwatchRoleArn") else "off"


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


class CdkRunner:
    """Runs the CDK CLI in the app directory, streaming its progress to stderr."""

    def __init__(self, cdk: list[str], app_dir: Path, region: str | None) -> None:
        self._cdk = cdk
        self._app_dir = app_dir
        self._env = {
            **os.environ,
            # `python3 app.py` must be this interpreter, which has aws-cdk-lib.
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
            "CDK_DISABLE_CLI_TELEMETRY": "true",
        }
        if region:
            self._env.update(
                AWS_REGION=region, AWS_DEFAULT_REGION=region, CDK_DEFAULT_REGION=region
            )

    def run(self, *args: str) -> None:
        with subprocess.Popen(
            [*self._cdk, *args],
            cwd=self._app_dir,
            env=self._env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ) as process:
            assert process.stdout is not None
            for line in process.stdout:
                sys.stderr.write(line)
                sys.stderr.flush()
        if process.returncode != 0:
            raise CliError(f"`cdk {' '.join(args)}` failed (exit {process.returncode})")


def read_outputs(path: Path) -> dict[str, str]:
    try:
        outputs: dict[str, dict[str, str]] = json.loads(path.read_text())
        return outputs[STACK_NAME]
    except (OSError, ValueError, KeyError) as error:
        raise CliError(f"cannot read the stack outputs in {path}: {error}") from error


def ensure_admin_key(session: Any, table: str, email: str, rotate: bool) -> str | None:
    """A new admin key, unless an active admin exists and `rotate` is off (then None)."""
    from orchestrator.adapters.aws.dynamodb import DynamoApiKeyStore
    from orchestrator.adapters.clock import SystemClock
    from orchestrator.domain.models import Role
    from orchestrator.domain.users import UserService

    keys = DynamoApiKeyStore(session.client("dynamodb"), table)
    users = UserService(keys, SystemClock())
    if users.has_active_admin() and not rotate:
        return None
    issued = users.issue_key(email, Role.ADMIN)
    if rotate:
        for record in keys.list_by_email(email):
            if record.api_key_hash != issued.record.api_key_hash and not record.revoked:
                keys.revoke(record.api_key_hash, issued.record.created_at)
    return issued.api_key


def stack_resources(session: Any) -> list[dict[str, Any]]:
    """The stack's resources; [] when there is no stack."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = session.client("cloudformation").describe_stack_resources(StackName=STACK_NAME)
    except ClientError as error:
        if "does not exist" in str(error):
            return []
        raise CliError(f"cannot read stack {STACK_NAME}: {_one_line(error)}") from error
    except BotoCoreError as error:
        raise CliError(f"cannot reach CloudFormation: {_one_line(error)}") from error
    resources: list[dict[str, Any]] = response["StackResources"]
    return resources


def retained_resources(resources: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(type, physical id) of what the stack keeps when deleted: tables, buckets and the
    executions' log group."""
    return [
        (r["ResourceType"], r["PhysicalResourceId"])
        for r in resources
        if r["ResourceType"] in RETAINED_TYPES
        and (r["ResourceType"] != "AWS::Logs::LogGroup" or _reattach_key(r) is not None)
    ]


def reattach_context(resources: list[dict[str, Any]]) -> dict[str, str]:
    """The context values with which a later `mycli init` reattaches the retained data."""
    return {
        key: r["PhysicalResourceId"] for r in resources if (key := _reattach_key(r)) is not None
    }


def _reattach_key(resource: dict[str, Any]) -> str | None:
    logical = str(resource.get("LogicalResourceId", ""))
    return next(
        (key for prefix, key in REATTACH_CONTEXT.items() if logical.startswith(prefix)), None
    )


def stop_running_tasks(
    session: Any, resources: list[dict[str, Any]], say: Callable[[str], None]
) -> None:
    """Stop every task of the executor cluster and wait until they have stopped: ECS
    refuses to delete a cluster with tasks, and a command must not outlive its records."""
    import time

    from botocore.exceptions import BotoCoreError, ClientError

    clusters = [
        r["PhysicalResourceId"] for r in resources if r["ResourceType"] == "AWS::ECS::Cluster"
    ]
    ecs = session.client("ecs")
    try:
        for cluster in clusters:
            arns = [
                arn
                for page in ecs.get_paginator("list_tasks").paginate(cluster=cluster)
                for arn in page.get("taskArns", [])
            ]
            for arn in arns:
                ecs.stop_task(cluster=cluster, task=arn, reason="mycli destroy")
            if arns:
                say(f"stopping {counted(len(arns), 'running task')} of {cluster}")
            deadline = time.monotonic() + TASK_STOP_TIMEOUT_SECONDS
            while arns:
                described = ecs.describe_tasks(cluster=cluster, tasks=arns[:100])["tasks"]
                arns = [t["taskArn"] for t in described if t.get("lastStatus") != "STOPPED"] + arns[
                    100:
                ]
                if not arns:
                    break
                if time.monotonic() >= deadline:
                    raise CliError(
                        f"{counted(len(arns), 'task')} of {cluster} did not stop in time"
                    )
                time.sleep(5)
    except (ClientError, BotoCoreError) as error:
        raise CliError(f"cannot stop the running tasks: {_one_line(error)}") from error


def purge(session: Any, resources: list[tuple[str, str]], say: Callable[[str], None]) -> None:
    """Delete retained tables, buckets (emptying them first) and the executions' logs."""
    for kind, name in resources:
        if kind == "AWS::DynamoDB::Table":
            session.client("dynamodb").delete_table(TableName=name)
        elif kind == "AWS::Logs::LogGroup":
            session.client("logs").delete_log_group(logGroupName=name)
        else:
            bucket = session.resource("s3").Bucket(name)
            bucket.object_versions.delete()
            bucket.delete()
        say(f"deleted {kind.split('::')[-1].lower()} {name}")
