"""Opaque pagination cursors: a store's position, base64url-encoded JSON."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from orchestrator.domain.errors import ValidationFailed


def encode_cursor(position: dict[str, Any]) -> str:
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, required: tuple[str, ...]) -> dict[str, Any]:
    """The position inside `cursor`; ValidationFailed when it was not made by encode_cursor."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed("invalid cursor", {"cursor": cursor}) from exc
    if not isinstance(position, dict) or any(key not in position for key in required):
        raise ValidationFailed("invalid cursor", {"cursor": cursor})
    return position


MAX_OFFSET_CURSOR_DIGITS = 19  # below 2**63: anything longer cannot be an offset of ours


def parse_offset_cursor(cursor: str | None) -> int:
    """The byte offset a log cursor stands for (the decimal offset itself; None or "" is 0);
    ValidationFailed unless it is plain ASCII digits."""
    if not cursor:
        return 0
    if len(cursor) > MAX_OFFSET_CURSOR_DIGITS or not (cursor.isascii() and cursor.isdigit()):
        raise ValidationFailed(
            "invalid log cursor: expected a next_cursor this server returned", {"cursor": cursor}
        )
    return int(cursor)
