"""The agent's presigned POST client, offline: the form S3 reads (fields, then the object's
exact bytes as `file`), and a slot from the manifest checked before it is used."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.agent.segment_post import PostSlot, multipart_form
from twin.s3_front import parse_form

SLOT = {
    "url": "https://mycli-code.s3.amazonaws.com/",
    "fields": {"key": "runs/e1/output/${filename}", "policy": "eyJ9", "x-amz-signature": "ab"},
    "prefix": "runs/e1/output/",
}


def test_the_form_carries_the_fields_then_the_exact_bytes_as_file() -> None:
    body = b"--\r\n\r\n\x00\xff" + b"x" * 1000 + b"\r\n"

    form, content_type = multipart_form({"key": "runs/e1/output/5", "policy": "p"}, body)

    fields, data = parse_form(content_type, form)
    assert (fields, data) == ({"key": "runs/e1/output/5", "policy": "p"}, body)
    assert form.index(b'name="file"') > form.index(b'name="policy"')
    boundary = content_type.split("boundary=")[1].encode()
    assert boundary not in body and len(boundary) == 32


def test_a_slot_from_the_manifest_is_taken_as_it_is() -> None:
    slot = PostSlot.from_dict(SLOT)
    assert (slot.url, dict(slot.fields), slot.prefix) == (
        SLOT["url"],
        SLOT["fields"],
        SLOT["prefix"],
    )


@pytest.mark.parametrize(
    "change",
    [
        {"url": "file:///etc/passwd"},
        {"url": 5},
        {"prefix": "runs/e1/output"},
        {"prefix": "runs/e1/\noutput/"},
        {"fields": {"key": "a\r\nb"}},
        {"fields": {'na"me': "v"}},
        {"fields": {"key": 5}},
        {"fields": ["key"]},
    ],
)
def test_a_slot_that_could_steer_the_form_or_the_request_is_refused(change: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="output slot"):
        PostSlot.from_dict({**SLOT, **change})
