"""The S3 front: form POSTs are checked against their policy; every other request reaches
moto as it came (the SDK through the front, presigned GETs)."""

from __future__ import annotations

import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from moto_aws import REGION
from orchestrator.adapters.aws.s3_output import SIGV4
from twin.s3_front import REFUSED_BY_HOOK, RunningFront, is_form_post, policy_front

BUCKET = f"front-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def s3(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "twin")
    with policy_front(moto_server) as (url, _):
        client = boto3.client("s3", region_name=REGION, endpoint_url=url)
        if BUCKET not in [b["Name"] for b in client.list_buckets()["Buckets"]]:
            client.create_bucket(
                Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
        yield client


def test_given_the_sdk_behind_the_front_when_it_puts_heads_and_gets_then_moto_answers(
    s3: Any,
) -> None:
    client = s3
    client.put_object(Bucket=BUCKET, Key="a/b", Body=b"\x00bytes\xff")

    head = client.head_object(Bucket=BUCKET, Key="a/b")
    body = client.get_object(Bucket=BUCKET, Key="a/b")["Body"].read()
    url = client.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "a/b"})
    with urllib.request.urlopen(url, timeout=10) as response:
        presigned = response.read()

    assert head["ContentLength"] == 7
    assert body == presigned == b"\x00bytes\xff"


def test_given_a_presigned_post_when_the_form_breaks_its_policy_then_s3s_error_answers(
    s3: Any,
) -> None:
    post = s3.generate_presigned_post(
        BUCKET, "runs/x/out", Conditions=[["content-length-range", 0, 4]]
    )
    boundary = "twinboundary"
    parts = [*post["fields"].items(), ("file", "too long")]
    body = (
        "".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
            for k, v in parts
        )
        + f"--{boundary}--\r\n"
    )
    request = urllib.request.Request(
        post["url"],
        data=body.encode(),
        method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)

    assert refused.value.code == 400
    assert b"EntityTooLarge" in refused.value.read()


def test_form_posts_are_told_apart_from_sdk_posts() -> None:
    assert is_form_post("POST", "/bucket", "multipart/form-data; boundary=x")
    assert not is_form_post("POST", "/bucket/key?uploads", "application/xml")
    assert not is_form_post("POST", "/bucket/key", "multipart/form-data; boundary=x")
    assert not is_form_post("PUT", "/bucket", "multipart/form-data; boundary=x")


def post_form(s3: Any, key: str, data: str) -> int:
    """A presigned POST of `data` to `key`, as the run agent sends one: its HTTP status."""
    post = s3.generate_presigned_post(BUCKET, key)
    boundary = "twinboundary"
    parts = [*post["fields"].items(), ("file", data)]
    body = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in parts
    )
    request = urllib.request.Request(
        post["url"],
        data=(body + f"--{boundary}--\r\n").encode(),
        method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        assert REFUSED_BY_HOOK.encode() in error.read()
        return error.code


def test_given_prefixes_in_the_refusals_file_then_form_posts_under_them_are_refused(
    s3: Any, moto_server: str, tmp_path: Path
) -> None:
    # Given a front whose fault hook lists a prefix
    refusals = tmp_path / "refuse-posts"
    front = RunningFront(moto_server, refusals=refusals)
    try:
        client = boto3.client("s3", region_name=REGION, endpoint_url=front.url, config=SIGV4)
        assert post_form(client, "runs/a/output/1", "x") == 204  # no file: nothing refused
        refusals.write_text("runs/b/\n\n")

        # When forms are posted under it and elsewhere
        statuses = [post_form(client, key, "x") for key in ("runs/b/output/1", "runs/a/x")]
        refusals.write_text("")
        after = post_form(client, "runs/b/output/2", "x")

        # Then only the listed prefix is refused (403 AccessDenied), while it is listed
        assert statuses == [403, 204] and after == 204
        assert client.get_object(Bucket=BUCKET, Key="runs/b/output/2")["Body"].read() == b"x"
    finally:
        front.close()
