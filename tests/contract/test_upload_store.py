"""UploadStore contract, with a real HTTP PUT to each slot URL: the local server's slot, and
a presigned S3 URL served by moto's server."""

from __future__ import annotations

import http.client
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from orchestrator.adapters.aws.s3_uploads import S3UploadStore, user_prefix
from orchestrator.adapters.local.database import Database
from orchestrator.adapters.local.uploads import LocalUploadStore
from orchestrator.local.server import LocalApiServer
from support import FakeWorld

ARCHIVE = b"\x1f\x8b" + b"pretend gzip " * 100


def local_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    store = LocalUploadStore(Database(tmp_path / "db.sqlite"), tmp_path / "uploads")
    server = LocalApiServer(FakeWorld().services, "127.0.0.1", 0, uploads=store)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield store
    server.shutdown()


def s3_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    endpoint = request.getfixturevalue("moto_server")
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    bucket = f"code-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    yield S3UploadStore(s3, bucket)


STORES = {"local": local_store, "s3": s3_store}


@pytest.fixture(params=sorted(STORES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    yield from STORES[request.param](request, tmp_path)


def open_slot(store: Any, user: str = "alice@example.com") -> Any:
    expires = datetime.now(UTC) + timedelta(minutes=15)
    return store.open_slot(uuid.uuid4().hex, user, expires, 1024 * 1024)


def put(slot: Any, body: bytes = ARCHIVE) -> int:
    request = urllib.request.Request(slot.url, data=body, method=slot.method, headers=slot.headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def declare_oversized_put(slot: Any) -> int:
    """Announce a body over the slot's limit; the server answers before any of it is sent."""
    url = urllib.parse.urlsplit(slot.url)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    connection.putrequest("PUT", f"{url.path}?{url.query}")
    connection.putheader("Content-Length", str(slot.max_bytes + 1))
    connection.endheaders()
    status = connection.getresponse().status
    connection.close()
    return status


def test_a_put_upload_is_found_for_its_owner(store: Any) -> None:
    slot = open_slot(store)

    assert store.find("alice@example.com", slot.upload_id) is None
    assert put(slot) == 200
    upload = store.find("alice@example.com", slot.upload_id)

    assert upload is not None
    assert (upload.upload_id, upload.user_email, upload.size) == (
        slot.upload_id,
        "alice@example.com",
        len(ARCHIVE),
    )
    assert upload.location
    assert upload.completed_at.endswith("Z")


def test_another_users_upload_is_not_found(store: Any) -> None:
    slot = open_slot(store)
    put(slot)
    assert store.find("bob@example.com", slot.upload_id) is None
    assert store.find("alice@example.com", "0" * 32) is None


def test_the_slot_names_its_limit_headers_and_expiry(store: Any) -> None:
    slot = open_slot(store)
    assert slot.method == "PUT"
    assert slot.headers["Content-Type"] == "application/gzip"
    assert slot.max_bytes == 1024 * 1024
    assert slot.expires_at > datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def test_s3_keys_live_under_the_users_own_prefix(moto_server: str) -> None:
    store = S3UploadStore(
        boto3.client(
            "s3",
            endpoint_url=moto_server,
            region_name="eu-west-1",
            aws_access_key_id="t",
            aws_secret_access_key="t",
        ),
        "b",
    )
    key = store.key_for("alice@example.com", "abc")
    assert key.startswith(user_prefix("alice@example.com"))
    assert key.startswith("uploads/")
    assert "alice" not in key
    assert user_prefix("alice@example.com") != user_prefix("bob@example.com")


def test_a_local_slot_refuses_a_wrong_token_an_oversized_body_and_a_second_put(
    tmp_path: Path,
) -> None:
    generator = local_store(None, tmp_path)  # type: ignore[arg-type]
    store = next(generator)
    slot = open_slot(store)
    wrong = type(slot)(**{**slot.to_dict(), "url": slot.url.replace("token=", "token=x")})

    assert put(wrong) == 404
    assert declare_oversized_put(slot) == 413
    assert put(slot) == 200
    assert put(slot) == 409
    assert store.find("alice@example.com", slot.upload_id).size == len(ARCHIVE)
    generator.close()
