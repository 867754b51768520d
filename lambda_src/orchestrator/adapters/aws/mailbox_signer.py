"""Mailbox URLs signed as the mailbox signer (docs/warm-runners.md, Expiry): the pool manager
assumes the stack's mailbox-signer role (it may only read `warm/*`) for an hour and signs
each mailbox's presigned GET with those credentials. A presigned URL works until its
X-Amz-Expires or until the credentials that signed it expire, whichever is first: with
credentials of known expiry, a mailbox's `usable_until` is exact."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from orchestrator.ports import Clock

SESSION_NAME = "mycli-warm-pools"
# STS's shortest session; the role's longest is an hour (stacks/warm_pools.py).
MIN_SESSION_SECONDS = 900


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime


@dataclass(frozen=True)
class SignedMailbox:
    url: str
    usable_until: datetime  # the earlier of the URL's expiry and its credentials'


class AssumedRoleSigner:
    """Signs mailbox GETs of `bucket` as `role_arn`. `s3_as(credentials)` makes the S3
    client that signs with them. The role is assumed on first use, and again once less
    than `url_seconds` of its session remain (a pool manager's run lasts a minute)."""

    def __init__(
        self,
        sts: Any,
        role_arn: str,
        s3_as: Callable[[Credentials], Any],
        bucket: str,
        clock: Clock,
        *,
        url_seconds: int = 3600,
        session_seconds: int = 3600,
    ) -> None:
        self._sts = sts
        self._role_arn = role_arn
        self._s3_as = s3_as
        self._bucket = bucket
        self._clock = clock
        self._url_seconds = url_seconds
        self._session_seconds = max(session_seconds, MIN_SESSION_SECONDS)
        self._session: tuple[Credentials, Any] | None = None

    def sign(self, key: str) -> SignedMailbox:
        """A presigned GET of the mailbox `key` (ClientError, BotoCoreError: STS refused)."""
        credentials, s3 = self._signing_session()
        # The URL's X-Amz-Date is the signing time, to the second, no earlier than this.
        signed_at = self._clock.now().replace(microsecond=0)
        until = min(signed_at + timedelta(seconds=self._url_seconds), credentials.expiration)
        url: str = s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": self._bucket, "Key": key},
            ExpiresIn=max(1, math.ceil((until - signed_at).total_seconds())),
        )
        return SignedMailbox(url=url, usable_until=until)

    def _signing_session(self) -> tuple[Credentials, Any]:
        now = self._clock.now()
        if self._session is None or self._session[0].expiration - now < timedelta(
            seconds=min(self._url_seconds, self._session_seconds) - 60
        ):
            answer = self._sts.assume_role(
                RoleArn=self._role_arn,
                RoleSessionName=SESSION_NAME,
                DurationSeconds=self._session_seconds,
            )["Credentials"]
            credentials = Credentials(
                access_key_id=answer["AccessKeyId"],
                secret_access_key=answer["SecretAccessKey"],
                session_token=answer["SessionToken"],
                expiration=answer["Expiration"],
            )
            self._session = (credentials, self._s3_as(credentials))
        return self._session
