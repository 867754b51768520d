"""Fixtures shared by every layer of the suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from moto_aws import CODE_BUCKET, REGION, moto_platform
from orchestrator.adapters.aws.settings import AwsSettings
from orchestrator.local.platform import LocalPlatform, LocalSettings
from support import FakeWorld


def pytest_addoption(parser: pytest.Parser) -> None:
    import os

    parser.addoption(
        "--backend",
        choices=("embedded", "twin"),
        default=os.environ.get("MYCLI_E2E_BACKEND", "embedded"),
        help="the e2e suite's deployment: embedded (mycli local up) or twin (scripts/aws-twin)",
    )


@pytest.fixture
def world() -> FakeWorld:
    return FakeWorld()


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[LocalPlatform]:
    """The real embedded platform (SQLite, processes, log files) in a temporary directory."""
    local = LocalPlatform(LocalSettings(data_dir=tmp_path / "data", kill_grace_seconds=1.0))
    yield local
    local.shutdown()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsSettings]:
    """moto standing in for AWS, with the stack's tables, executor and log group."""
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "mycli",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with moto_platform() as settings:
        yield settings


@pytest.fixture
def output_bucket(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto with only the code bucket: enough for the run output store (S3 segments)."""
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket=CODE_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        yield CODE_BUCKET


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto server on 127.0.0.1, for what must cross real HTTP (presigned S3 URLs)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
