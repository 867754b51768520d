"""A secret's write on SSM (moto) when its metadata cannot be written: the value written
first is rolled back, so no orphan value is left, and a replaced secret keeps giving runs the
value its metadata names. The failure is injected by wrapping the real client."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from moto_aws import REGION
from orchestrator.adapters.aws.settings import AwsSettings
from orchestrator.adapters.aws.ssm_secrets import METADATA, VALUES, SsmSecretStore
from orchestrator.domain.models import Secret


class MetadataWritesFail:
    """moto's SSM client, except that every PutParameter under the metadata path fails
    (as an SSM outage between the two writes would)."""

    def __init__(self, ssm: Any, metadata_path: str) -> None:
        self._ssm = ssm
        self._metadata_path = metadata_path
        self.failing = True

    def put_parameter(self, **params: Any) -> Any:
        if self.failing and params["Name"].startswith(self._metadata_path):
            raise ClientError(
                {"Error": {"Code": "InternalServerError", "Message": "injected"}}, "PutParameter"
            )
        return self._ssm.put_parameter(**params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ssm, name)


@pytest.fixture
def ssm(aws: AwsSettings) -> MetadataWritesFail:
    return MetadataWritesFail(boto3.client("ssm", region_name=REGION), aws.secrets_path + METADATA)


@pytest.fixture
def store(aws: AwsSettings, ssm: MetadataWritesFail) -> SsmSecretStore:
    return SsmSecretStore(ssm, aws.secrets_path, aws.secrets_key)


def secret(name: str, description: str = "") -> Secret:
    return Secret(name, description, (), "admin@example.com", "2026-01-01T00:00:00.000Z", 0)


def parameters_under(aws: AwsSettings) -> list[str]:
    ssm = boto3.client("ssm", region_name=REGION)
    pages = ssm.get_paginator("get_parameters_by_path").paginate(
        Path=aws.secrets_path, Recursive=True
    )
    return sorted(p["Name"] for page in pages for p in page["Parameters"])


def test_a_new_secret_whose_metadata_fails_leaves_no_orphan_value(
    aws: AwsSettings, store: SsmSecretStore
) -> None:
    # Given SSM failing the metadata write
    # When a new secret is set
    with pytest.raises(ClientError, match="injected"):
        store.put(secret("db.password"), "pa55")

    # Then the value it wrote first is gone too: nothing is stored, nothing revealed
    assert parameters_under(aws) == []
    assert store.describe(["db.password"]) == {}
    assert store.reveal(["db.password"], "exec-1") == {}


def test_a_replaced_secret_whose_metadata_fails_keeps_its_value_and_metadata(
    aws: AwsSettings, ssm: MetadataWritesFail, store: SsmSecretStore
) -> None:
    # Given a stored secret, and then SSM failing the metadata write
    ssm.failing = False
    first = store.put(secret("token", "first"), "first-value")
    ssm.failing = True

    # When it is replaced
    with pytest.raises(ClientError, match="injected"):
        store.put(secret("token", "second"), "second-value")

    # Then it is the secret it was: its metadata, and the value runs get
    assert store.describe(["token"]) == {"token": first}
    assert store.reveal(["token"], "exec-1") == {"token": "first-value"}
    assert parameters_under(aws) == [
        f"{aws.secrets_path}{METADATA}token",
        f"{aws.secrets_path}{VALUES}token",
    ]


def test_once_ssm_works_again_the_same_write_succeeds(
    ssm: MetadataWritesFail, store: SsmSecretStore
) -> None:
    with pytest.raises(ClientError):
        store.put(secret("token"), "lost")
    ssm.failing = False

    stored = store.put(secret("token", "retried"), "kept")

    assert (stored.version, stored.description) == (1, "retried")
    assert store.reveal(["token"], "exec-1") == {"token": "kept"}
