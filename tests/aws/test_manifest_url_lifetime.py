"""The manifest's presigned URL is in RunTask's overrides, where DescribeTasks and CloudTrail
show it: it and the GET URLs in the manifest (upload, stdin) live 10 minutes at most."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from moto_aws import REGION
from orchestrator.adapters.aws.clients import AwsClients
from orchestrator.adapters.aws.composition import ecs_tasks
from orchestrator.adapters.aws.ecs import EcsRunner
from orchestrator.adapters.aws.run_inputs import URL_LIFETIME_SECONDS
from orchestrator.adapters.aws.settings import AwsSettings
from orchestrator.adapters.aws.task_layout import manifest_key
from orchestrator.agent.manifest import parse_manifest
from orchestrator.domain.models import LaunchSpec

TEN_MINUTES = 600


@pytest.fixture
def runner(aws: AwsSettings) -> EcsRunner:
    return ecs_tasks(aws, AwsClients())


def lifetime(url: str | None) -> int:
    assert url is not None
    [expires] = parse_qs(urlsplit(url).query)["X-Amz-Expires"]
    return int(expires)


def test_the_manifest_url_and_its_get_urls_live_at_most_ten_minutes(
    aws: AwsSettings, runner: EcsRunner
) -> None:
    # Given a run with an upload and stdin
    s3 = boto3.client("s3", region_name=REGION)
    for key in ("uploads/u/code.tar.gz", "uploads/u/stdin"):
        s3.put_object(Bucket=aws.code_bucket, Key=key, Body=b"x")
    requests: list[dict[str, Any]] = []
    runner._ecs.meta.events.register(
        "provide-client-params.ecs.RunTask", lambda params, **_: requests.append(params)
    )

    # When it is launched
    runner.launch(
        LaunchSpec(
            "e1",
            "cat",
            {},
            60,
            upload_location="uploads/u/code.tar.gz",
            stdin_location="uploads/u/stdin",
        )
    )

    # Then every presigned GET it hands out expires within ten minutes
    [request] = requests
    [override] = request["overrides"]["containerOverrides"]
    variables = {v["name"]: v["value"] for v in override["environment"]}
    body = s3.get_object(Bucket=aws.code_bucket, Key=manifest_key("e1"))["Body"].read()
    manifest = parse_manifest(body)
    assert URL_LIFETIME_SECONDS <= TEN_MINUTES
    assert lifetime(variables["MYCLI_MANIFEST_URL"]) == URL_LIFETIME_SECONDS
    assert lifetime(manifest.upload_url) == URL_LIFETIME_SECONDS
    assert lifetime(manifest.stdin_url) == URL_LIFETIME_SECONDS
