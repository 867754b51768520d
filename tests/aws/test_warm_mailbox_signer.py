"""Mailbox URLs signed as the mailbox signer (docs/warm-runners.md, Expiry), on moto: the pool
manager assumes the signer's role and signs each warm task's mailbox URL with those
credentials, so the task's `usable_until` is the earlier of the URL's expiry and theirs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from warm_world import tools

from lambda_harness import Lambdas
from moto_aws import MAILBOX_SIGNER_ROLE_ARN, REGION
from orchestrator.adapters.aws.clients import AwsClients
from orchestrator.adapters.aws.composition import warm_pool
from orchestrator.adapters.aws.mailbox_signer import AssumedRoleSigner, Credentials
from orchestrator.adapters.clock import SystemClock
from orchestrator.domain.models import parse_iso


@pytest.fixture
def assumed(lambdas: Lambdas) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Every AssumeRole the pool manager's STS client makes: (its request, the answer's
    credentials)."""
    from orchestrator.handlers.runtime import clients

    calls: list[tuple[dict[str, Any], dict[str, Any]]] = []
    requests: list[dict[str, Any]] = []
    events = clients().sts.meta.events
    events.register(
        "provide-client-params.sts.AssumeRole", lambda params, **_: requests.append(params)
    )
    events.register(
        "after-call.sts.AssumeRole",
        lambda parsed, **_: calls.append((requests[-1], parsed["Credentials"])),
    )
    return calls


def query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def mailbox_overrides(request: dict[str, Any]) -> dict[str, str]:
    [override] = request["overrides"]["containerOverrides"]
    return {v["name"]: v["value"] for v in override["environment"]}


def test_mailbox_urls_are_signed_with_the_signers_assumed_credentials(
    lambdas: Lambdas, assumed: list[tuple[dict[str, Any], dict[str, Any]]]
) -> None:
    # Given an image with a pool of 2, and the RunTask requests watched
    from orchestrator.handlers.runtime import clients

    tools(lambdas.settings, warm=2)
    run_tasks: list[dict[str, Any]] = []
    clients().ecs.meta.events.register(
        "provide-client-params.ecs.RunTask", lambda params, **_: run_tasks.append(params)
    )
    before = datetime.now(UTC)

    # When the pool manager starts them
    report = lambdas.invoke("warm_pool_manager", {})

    # Then it assumed the mailbox signer once, for an hour
    assert len(report["started"]) == 2
    [(request, credentials)] = assumed
    assert request["RoleArn"] == MAILBOX_SIGNER_ROLE_ARN
    assert request["DurationSeconds"] == 3600
    # and each task's mailbox URL is signed with those credentials (not the function's)
    pool = warm_pool(lambdas.settings, AwsClients())
    for task_id, run_task in zip(report["started"], run_tasks, strict=True):
        variables = mailbox_overrides(run_task)
        signed = query(variables["MYCLI_MAILBOX_URL"])
        assert signed["X-Amz-Credential"].split("/")[0] == credentials["AccessKeyId"]
        assert signed["X-Amz-Security-Token"] == credentials["SessionToken"]
        assert credentials["AccessKeyId"] != boto3.Session().get_credentials().access_key
        # and its usable_until is no later than the URL's expiry nor the credentials'
        until = parse_iso(variables["MYCLI_MAILBOX_UNTIL"])
        url_expiry = datetime.strptime(signed["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(
            tzinfo=UTC
        ) + timedelta(seconds=int(signed["X-Amz-Expires"]))
        assert until <= credentials["Expiration"] and until <= url_expiry
        assert before + timedelta(minutes=59) < until  # an hour's session: an hour's URL
        task = pool.get(task_id)
        assert task is not None and task.usable_until == variables["MYCLI_MAILBOX_UNTIL"]


def test_usable_until_is_bounded_by_the_credentials_expiry(lambdas: Lambdas) -> None:
    # Given a signer whose session (15 minutes, STS's shortest) ends before its URLs would
    clients = AwsClients()
    sts = boto3.client("sts", region_name=REGION)
    sessions: list[Credentials] = []

    def s3_as(credentials: Credentials) -> Any:
        sessions.append(credentials)
        return clients.s3_sigv4_as(
            credentials.access_key_id, credentials.secret_access_key, credentials.session_token
        )

    signer = AssumedRoleSigner(
        sts,
        MAILBOX_SIGNER_ROLE_ARN,
        s3_as,
        lambdas.settings.code_bucket,
        SystemClock(),
        url_seconds=3600,
        session_seconds=900,
    )

    # When it signs two mailboxes
    first, second = signer.sign("warm/1/assignment"), signer.sign("warm/2/assignment")

    # Then both are usable exactly until the credentials expire (one session for both),
    # and their URLs say no longer
    [session] = sessions
    assert first.usable_until == second.usable_until == session.expiration
    expires = int(query(first.url)["X-Amz-Expires"])
    assert 890 <= expires <= 901  # the session's end, to the second above
    signed_at = datetime.strptime(query(first.url)["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    assert session.expiration <= signed_at.replace(tzinfo=UTC) + timedelta(seconds=expires)
    assert query(first.url)["X-Amz-Credential"].startswith(session.access_key_id + "/")
