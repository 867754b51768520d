"""Fixtures for the fuzz layer: a real `mycli local up`, and the Lambda handlers on moto."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from generated import Keys

from aws.lambda_harness import Lambdas, reset_runtime
from e2e.deployment import LocalDeployment, running_deployment
from moto_aws import REGION, environment
from orchestrator.adapters.aws.dynamodb import DynamoApiKeyStore
from orchestrator.adapters.aws.settings import AwsSettings
from orchestrator.adapters.clock import SystemClock
from orchestrator.domain.models import Role
from orchestrator.domain.users import UserService


@pytest.fixture
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalDeployment, Keys]]:
    with running_deployment(tmp_path_factory.mktemp("fuzz")) as deployment:
        yield deployment, Keys(admin=deployment.admin_key, user=deployment.add_user("u@x.io"))


@pytest.fixture
def lambdas(aws: AwsSettings, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Lambdas, Keys]]:
    for name, value in environment(aws).items():
        monkeypatch.setenv(name, value)
    reset_runtime()
    users = UserService(
        DynamoApiKeyStore(boto3.client("dynamodb", region_name=REGION), aws.api_keys_table),
        SystemClock(),
    )
    admin = users.issue_key("admin@example.com", Role.ADMIN).api_key
    user = users.issue_key("u@x.io", Role.USER).api_key
    yield Lambdas(settings=aws, admin_key=admin, alice_key=user, bob_key=user), Keys(admin, user)
    reset_runtime()
