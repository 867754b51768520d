"""Imported output (`mycli migrate` onto AWS) as the run agent writes it: segments under
`runs/<id>/output/`, named by their end, and the end marker (orchestrator.output_segments),
so the S3LogReader serves the chunks as they were. One import request is one segment."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from orchestrator.adapters.aws.clients import error_code
from orchestrator.domain.errors import Conflict, ValidationFailed
from orchestrator.domain.models import LogChunk
from orchestrator.output_segments import (
    MAX_END_MARKER_BYTES,
    MAX_OBJECT_BYTES,
    EndMarker,
    Segment,
    SegmentChunk,
    SegmentInvalid,
    decode_end,
    encode_end,
    encode_segment,
    end_key,
    output_prefix,
    parse_segment_name,
    segment_key,
)


class S3OutputImports:
    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def put_chunks(self, execution_id: str, chunks: Sequence[LogChunk]) -> int:
        segment = Segment(
            chunks[0].offset,
            tuple(SegmentChunk(c.offset, c.stream.value, c.timestamp, c.data) for c in chunks),
        )
        body = encode_segment(segment)
        stored_end = self._stored_end(execution_id)
        if segment.offset > stored_end:
            raise ValidationFailed(
                f"the chunks start at byte {segment.offset} but only {stored_end} bytes are stored",
                {"stored": stored_end},
            )
        key = segment_key(execution_id, segment.end)
        if segment.offset < stored_end:  # imported before: the very same segment, or refused
            if self._get(key, MAX_OBJECT_BYTES) != body:
                raise Conflict(f"other output is stored at byte {segment.offset}")
            return stored_end
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=body)
        return segment.end

    def finish(self, execution_id: str, total: int, truncated_at: int | None) -> None:
        stored_end = self._stored_end(execution_id)
        if stored_end != total:
            raise ValidationFailed(
                f"{stored_end} output bytes are stored, not {total}: import the rest first",
                {"stored": stored_end},
            )
        marker = EndMarker(total, truncated_at)
        existing = self._get(end_key(execution_id), MAX_END_MARKER_BYTES)
        if existing is not None:
            try:
                same = decode_end(existing) == marker
            except SegmentInvalid:
                same = False
            if not same:
                raise Conflict("the output was finished with another end")
            return
        self._s3.put_object(Bucket=self._bucket, Key=end_key(execution_id), Body=encode_end(marker))

    def _stored_end(self, execution_id: str) -> int:
        prefix = output_prefix(execution_id)
        paginator = self._s3.get_paginator("list_objects_v2")
        end = 0
        for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                name_end = parse_segment_name(item["Key"][len(prefix) :])
                if name_end is not None:
                    end = max(end, name_end)
        return end

    def _get(self, key: str, limit: int) -> bytes | None:
        try:
            answer = self._s3.get_object(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if error_code(error) in ("NoSuchKey", "404"):
                return None
            raise
        with answer["Body"] as body:
            data: bytes = body.read(limit + 1)
        return data
