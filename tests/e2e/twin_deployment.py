"""The e2e suite's second backend: the Fargate twin (`./scripts/aws-twin up`) in a temporary
home, driven through the same real `mycli` command, with the interface of LocalDeployment
(the `twin` profile stands where `local` does). `mycli local up`'s tunables become the
stack's context values (`aws-twin up --context mycli:key=value`, as `cdk deploy -c`)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deployment import LocalDeployment
from twin.daemon import RUN_MARKER
from twin.ecs.tasks import CONTAINER_MARKER
from twin.resolver import REGION
from twin.runstate import marked_processes

ROOT = Path(__file__).resolve().parents[2]
AWS_TWIN = str(ROOT / "scripts" / "aws-twin")
PROFILE = "twin"
# The e2e suite's reaper runs every 2 s (the template's is every minute).
REAPER_INTERVAL_SECONDS = "2"
# `mycli local up` option → the stack's context key with the same meaning (sizes in MiB).
CONTEXT_OF_OPTION = {
    "--max-upload-mb": "mycli:maxUploadMib",
    "--max-unpacked-mb": "mycli:maxUnpackedMib",
    "--max-upload-entries": "mycli:maxUploadEntries",
    "--max-log-mb": "mycli:maxLogMib",
    "--log-retention-days": "mycli:logRetentionDays",
    "--max-running-per-user": "mycli:maxRunningPerUser",
    "--max-running-total": "mycli:maxRunningTotal",
}


class TwinIncompatible(Exception):
    """What a test asked of the deployment has no meaning on the twin (and why)."""


def context_of(options: tuple[str, ...]) -> list[str]:
    """`mycli local up` options as `--context mycli:key=value` arguments of `aws-twin up`."""
    if len(options) % 2:
        raise TwinIncompatible(f"options {options} are not OPTION VALUE pairs")
    arguments: list[str] = []
    for option, value in zip(options[::2], options[1::2], strict=True):
        if option not in CONTEXT_OF_OPTION:
            raise TwinIncompatible(f"`mycli local up {option}` has no stack equivalent")
        arguments += ["--context", f"{CONTEXT_OF_OPTION[option]}={value}"]
    return arguments


@dataclass
class TwinDeployment(LocalDeployment):
    admin_email = "admin@mycli"  # twin/daemon.py issues the admin key to this address

    @property
    def run_dir(self) -> Path:
        return self.home / "twin-run"

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, "MYCLI_PROFILE": PROFILE}

    @property
    def profile(self) -> dict[str, str]:
        config = tomllib.loads((self.home / "config" / "mycli" / "config.toml").read_text())
        profile: dict[str, str] = config["profiles"][PROFILE]
        return profile

    @property
    def state(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads((self.run_dir / "state.json").read_text())
        return loaded

    @property
    def server_pid(self) -> int:
        return int(self.state["pid"])

    def up(self, *extra: str) -> None:
        result = subprocess.run(
            [
                AWS_TWIN,
                "up",
                "--dir",
                str(self.run_dir),
                "--reaper-interval",
                REAPER_INTERVAL_SECONDS,
                *context_of(extra),
            ],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,  # a first synthesis with new context values takes a while
            check=False,
        )
        assert result.returncode == 0, result.stderr

    def set_task_start_delay(self, seconds: float) -> None:
        """Fargate's start latency for the tasks started from now on (`aws-twin set`)."""
        result = subprocess.run(
            [AWS_TWIN, "set", "--dir", str(self.run_dir), "--task-start-delay", f"{seconds:g}"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr

    def reset(self) -> bool:
        """Back to a fresh deployment with a new admin key (`aws-twin reset`); False when the
        twin is not running (or could not reset), so a new one must come up."""
        result = subprocess.run(
            [AWS_TWIN, "reset", "--dir", str(self.run_dir)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return result.returncode == 0

    def down(self) -> None:
        subprocess.run(
            [AWS_TWIN, "down", "--dir", str(self.run_dir)],
            env=self.env,
            capture_output=True,
            timeout=120,
            check=False,
        )

    def client(self, service: str) -> Any:
        """A boto3 client of the twin's moto (S3 through the twin's S3 front)."""
        return _client(self.state, service)

    def grants_of(self, execution_id: str) -> list[dict[str, Any]]:
        """The KMS grants made for `execution_id` (named `mycli-<id>-...`), on any key."""
        kms = _client(self.state, "kms")
        return [
            grant
            for key in kms.list_keys()["Keys"]
            for grant in kms.list_grants(KeyId=key["KeyId"])["Grants"]
            if str(grant.get("Name", "")).startswith(f"mycli-{execution_id}")
        ]

    def stored_data(self) -> bytes:
        """Every byte the deployment keeps at rest that the platform writes itself: the
        tables' items, the bucket's objects, CloudWatch Logs (the operators' copy) and the
        daemon's log (the functions' logs). Not SSM: AWS encrypts SecureStrings at rest
        with KMS, and moto stores them as given."""
        return (
            b"".join(
                [*_table_items(self.state), *_bucket_objects(self.state), *_log_events(self.state)]
            )
            + (self.run_dir / "twin.log").read_bytes()
        )


def _client(state: dict[str, Any], service: str) -> Any:
    import boto3

    endpoint = state["s3_url"] if service == "s3" else state["moto_url"]
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="twin",
        aws_secret_access_key="twin",
        aws_session_token="twin",
    )


def _table_items(state: dict[str, Any]) -> Iterator[bytes]:
    dynamodb = _client(state, "dynamodb")
    for table in dynamodb.list_tables()["TableNames"]:
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            yield json.dumps(page["Items"], default=str).encode()


def _bucket_objects(state: dict[str, Any]) -> Iterator[bytes]:
    s3 = _client(state, "s3")
    for bucket in s3.list_buckets()["Buckets"]:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket["Name"]):
            for item in page.get("Contents", []):
                yield s3.get_object(Bucket=bucket["Name"], Key=item["Key"])["Body"].read()


def _log_events(state: dict[str, Any]) -> Iterator[bytes]:
    logs = _client(state, "logs")
    for page in logs.get_paginator("describe_log_groups").paginate():
        for group in page["logGroups"]:
            events = logs.filter_log_events(logGroupName=group["logGroupName"])["events"]
            yield "".join(event["message"] for event in events).encode()


def agent_pids(twin: TwinDeployment, execution_id: str) -> list[int]:
    """The processes of this run's agent container on this twin (its RunTask override names
    the run; docs/aws-twin.md, Test hooks)."""
    pids = []
    for pid in marked_processes("MYCLI_EXECUTION_ID", execution_id):
        environ = environ_of(pid)
        if environ.get(RUN_MARKER) == str(twin.run_dir) and environ.get(
            CONTAINER_MARKER, ""
        ).endswith("/agent"):
            pids.append(pid)
    return pids


def environ_of(pid: int) -> dict[str, str]:
    """A process's environment ({} once it is gone)."""
    with contextlib.suppress(OSError):
        raw = Path(f"/proc/{pid}/environ").read_bytes()
        return dict(
            item.decode(errors="replace").split("=", 1) for item in raw.split(b"\0") if b"=" in item
        )
    return {}
