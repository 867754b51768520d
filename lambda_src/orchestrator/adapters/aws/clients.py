"""AWS clients, each created on first use and then reused for the container's life.

They come from botocore directly: the X-Ray SDK behind Powertools Tracer has loaded botocore
already, and skipping boto3's own layer saves ~50 ms of every cold start.

Every client retries in botocore's adaptive mode: the standard retries (throttling and
transient errors, exponential backoff with jitter) plus a client-side rate limiter that slows
the container's calls to a service once it throttles. Four attempts in all (the first and
three retries): a throttled call backs off at most 1 + 2 + 4 s, well inside the API's 29 s,
and what still fails is answered 429 with Retry-After (api/errors.py)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

TOTAL_MAX_ATTEMPTS = 4


def retry_config() -> Any:
    """The botocore Config every client of the functions is created with."""
    from botocore.config import Config

    return Config(retries={"mode": "adaptive", "total_max_attempts": TOTAL_MAX_ATTEMPTS})


class AwsClients:
    def __init__(self, before_first_client: Callable[[], None] | None = None) -> None:
        """`before_first_client` runs once, before botocore is first imported (tracing)."""
        self._before_first_client = before_first_client

    @cached_property
    def _session(self) -> Any:
        if self._before_first_client:
            self._before_first_client()
        import botocore.session

        return botocore.session.get_session()

    def _client(self, service: str, config: Any = None) -> Any:
        retries = retry_config()
        return self._session.create_client(
            service, config=config.merge(retries) if config else retries
        )

    @cached_property
    def dynamodb(self) -> Any:
        return self._client("dynamodb")

    @cached_property
    def ecs(self) -> Any:
        return self._client("ecs")

    @cached_property
    def logs(self) -> Any:
        return self._client("logs")

    @cached_property
    def kms(self) -> Any:
        return self._client("kms")

    @cached_property
    def s3(self) -> Any:
        return self._client("s3")

    @cached_property
    def s3_sigv4(self) -> Any:
        """S3 signing with SigV4 (botocore signs POST policies with SigV2 otherwise)."""
        from orchestrator.adapters.aws.s3_output import SIGV4

        return self._client("s3", SIGV4)

    @cached_property
    def ssm(self) -> Any:
        return self._client("ssm")

    @cached_property
    def sts(self) -> Any:
        return self._client("sts")

    @cached_property
    def lambda_(self) -> Any:
        return self._client("lambda")

    def s3_sigv4_as(self, access_key_id: str, secret_access_key: str, session_token: str) -> Any:
        """An S3 client signing (SigV4) with the credentials given, not the function's."""
        from orchestrator.adapters.aws.s3_output import SIGV4

        return self._session.create_client(
            "s3",
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            aws_session_token=session_token,
            config=SIGV4.merge(retry_config()),
        )


def error_code(error: Exception) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else)."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""
