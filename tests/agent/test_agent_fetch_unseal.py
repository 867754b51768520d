"""The agent's GETs through presigned URLs (a real HTTP server on 127.0.0.1 answering
faults) and its unsealing with the run's KMS grant (moto's KMS)."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from moto_aws import REGION
from orchestrator.agent.fetch import FetchFailed, download, fetch_bytes
from orchestrator.agent.manifest import Manifest, OutputSlotFields, Unsealed
from orchestrator.agent.unseal import UnsealFailed, unseal

ROLE = "arn:aws:iam::123456789012:role/mycli-task"


class Answers:
    def __init__(self) -> None:
        self.statuses: list[int] = []  # answered first, in order; then 200 with `body`
        self.body = b"the object \x00\xff"
        self.requests = 0


@pytest.fixture
def server() -> Iterator[tuple[str, Answers]]:
    answers = Answers()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return None

        def do_GET(self) -> None:
            answers.requests += 1
            status = answers.statuses.pop(0) if answers.statuses else 200
            body = answers.body if status == 200 else b"<Error/>"
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_address[1]}/object", answers
    http.shutdown()
    http.server_close()


def test_transient_failures_are_retried_with_backoff(server: tuple[str, Answers]) -> None:
    url, answers = server
    answers.statuses = [503, 429]
    sleeps: list[float] = []

    assert fetch_bytes(url, 100, sleep=sleeps.append) == answers.body
    assert (sleeps, answers.requests) == ([0.5, 1.0], 3)


def test_a_refusal_is_not_retried(server: tuple[str, Answers]) -> None:
    url, answers = server
    answers.statuses = [403]
    with pytest.raises(FetchFailed, match="HTTP 403"):
        fetch_bytes(url, 100, sleep=lambda _: None)
    assert answers.requests == 1


def test_failures_past_the_last_attempt_are_reported(server: tuple[str, Answers]) -> None:
    url, answers = server
    answers.statuses = [500] * 4
    with pytest.raises(FetchFailed, match=r"HTTP 500 \(after 4 attempts\)"):
        fetch_bytes(url, 100, sleep=lambda _: None)


def test_an_object_larger_than_allowed_is_refused(server: tuple[str, Answers]) -> None:
    url, _ = server
    with pytest.raises(FetchFailed, match="larger than 4 bytes"):
        fetch_bytes(url, 4, attempts=1)


def test_a_download_lands_in_its_file_whole(server: tuple[str, Answers], tmp_path: Path) -> None:
    url, answers = server
    answers.statuses = [502]
    target = tmp_path / "upload.tar.gz"

    assert download(url, target, sleep=lambda _: None) == len(answers.body)
    assert target.read_bytes() == answers.body


# -- unsealing -----------------------------------------------------------------------------


@pytest.fixture
def kms(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield boto3.client("kms", region_name=REGION)


def sealed_manifest(
    kms: Any, unsealed: bytes, execution_id: str = "e1", seal_for: str = "e1"
) -> tuple[Manifest, str]:
    """A manifest whose sealed pieces (10 bytes each) are bound to `seal_for`."""
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    context = {"execution_id": seal_for}
    pieces = [
        base64.b64encode(
            kms.encrypt(KeyId=key, Plaintext=unsealed[i : i + 10], EncryptionContext=context)[
                "CiphertextBlob"
            ]
        ).decode()
        for i in range(0, len(unsealed), 10)
    ]
    grant = kms.create_grant(
        KeyId=key,
        GranteePrincipal=ROLE,
        RetiringPrincipal=ROLE,
        Operations=["Decrypt"],
        Constraints={"EncryptionContextEquals": context},
    )
    manifest = Manifest(
        execution_id=execution_id,
        command="true",
        output=OutputSlotFields("http://x/b", {}, "runs/e1/output/", 1),
        max_log_bytes=1,
        sealed=pieces,
        grant_token=grant["GrantToken"],
    )
    return manifest, key


def test_the_pieces_are_opened_joined_and_the_grant_retired(kms: Any) -> None:
    # Given values sealed for the run in several pieces, and its grant
    values = Unsealed(env={"A": "1", "S": "s3cr3t"}, mask=["s3cr3t"], git_credential="u:t")
    manifest, key = sealed_manifest(kms, values.to_json())

    # When the agent opens them
    opened = unseal(manifest, kms)

    # Then it has the values, and the grant is gone
    assert opened == values
    assert kms.list_grants(KeyId=key)["Grants"] == []


def test_values_sealed_for_another_run_are_not_opened_and_the_grant_is_retired(
    kms: Any,
) -> None:
    manifest, key = sealed_manifest(kms, Unsealed({"A": "1"}, []).to_json(), seal_for="other")
    retire_failures: list[str] = []

    with pytest.raises(UnsealFailed, match="KMS refused to decrypt: InvalidCiphertextException"):
        unseal(manifest, kms, retire_failures.append)
    assert kms.list_grants(KeyId=key)["Grants"] == []
    assert retire_failures == []


def test_a_plaintext_that_is_not_the_documented_json_is_refused(kms: Any) -> None:
    manifest, _ = sealed_manifest(kms, b'{"env": {"A": 1}}')
    with pytest.raises(UnsealFailed, match="the sealed env must map names to strings"):
        unseal(manifest, kms)


def test_nothing_sealed_needs_no_kms_at_all() -> None:
    manifest = Manifest(
        execution_id="e1",
        command="true",
        output=OutputSlotFields("http://x/b", {}, "runs/e1/output/", 1),
        max_log_bytes=1,
    )
    assert unseal(manifest, kms=object()) == Unsealed(env={}, mask=[])
