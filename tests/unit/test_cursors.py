"""Opaque cursors round-trip, and anything else is a validation error."""

from __future__ import annotations

import pytest

from orchestrator.domain.cursors import decode_cursor, encode_cursor, parse_offset_cursor
from orchestrator.domain.errors import ValidationFailed


def test_a_cursor_round_trips() -> None:
    position = {"started_at": "2026-01-01T00:00:00.000Z", "execution_id": "abc"}
    assert decode_cursor(encode_cursor(position), ("started_at", "execution_id")) == position


@pytest.mark.parametrize("cursor", ["not base64!", "bm90IGpzb24", encode_cursor({"other": 1})])
def test_a_foreign_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(ValidationFailed):
        decode_cursor(cursor, ("started_at", "execution_id"))


@pytest.mark.parametrize("cursor,offset", [(None, 0), ("", 0), ("0", 0), ("1234", 1234)])
def test_a_log_cursor_is_the_decimal_byte_offset(cursor: str | None, offset: int) -> None:
    assert parse_offset_cursor(cursor) == offset


@pytest.mark.parametrize("cursor", ["abc", "-1", "+1", " 1", "\u00b2", "\u0661", "9" * 20, "1.5"])
def test_a_log_cursor_that_is_not_plain_digits_is_refused(cursor: str) -> None:
    with pytest.raises(ValidationFailed):
        parse_offset_cursor(cursor)
