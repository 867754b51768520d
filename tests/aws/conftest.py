"""Fixtures for the Lambda handlers: moto resources, the functions' environment, keys."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from lambda_harness import Lambdas, reset_runtime
from moto_aws import REGION, environment
from orchestrator.adapters.aws.dynamodb import DynamoApiKeyStore
from orchestrator.adapters.aws.settings import AwsSettings
from orchestrator.adapters.clock import SystemClock
from orchestrator.domain.models import Role
from orchestrator.domain.users import UserService
from twin.s3_front import PolicyFront, policy_front


@pytest.fixture
def lambdas(aws: AwsSettings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lambdas]:
    for name, value in environment(aws).items():
        monkeypatch.setenv(name, value)
    reset_runtime()
    users = UserService(
        DynamoApiKeyStore(boto3.client("dynamodb", region_name=REGION), aws.api_keys_table),
        SystemClock(),
    )
    yield Lambdas(
        settings=aws,
        admin_key=users.issue_key("admin@example.com", Role.ADMIN).api_key,
        alice_key=users.issue_key("alice@example.com", Role.USER).api_key,
        bob_key=users.issue_key("bob@example.com", Role.USER).api_key,
    )
    reset_runtime()


@pytest.fixture
def front(output_bucket: str, moto_server: str) -> Iterator[tuple[str, PolicyFront]]:
    """The output bucket behind the POST-policy-checking front: (its URL, the front)."""
    with policy_front(moto_server) as running:
        yield running


@pytest.fixture
def s3(output_bucket: str) -> Any:
    """An S3 client of the moto world holding the output bucket."""
    return boto3.client("s3", region_name=REGION)
