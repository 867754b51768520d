"""boto3 clients, each created on first use and then reused for the container's life."""

from __future__ import annotations

from functools import cached_property
from typing import Any


class AwsClients:
    @cached_property
    def _session(self) -> Any:
        import boto3

        return boto3.session.Session()

    @cached_property
    def dynamodb(self) -> Any:
        return self._session.client("dynamodb")

    @cached_property
    def ecs(self) -> Any:
        return self._session.client("ecs")

    @cached_property
    def logs(self) -> Any:
        return self._session.client("logs")

    @cached_property
    def s3(self) -> Any:
        return self._session.client("s3")


def error_code(error: Exception) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else)."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""
