"""The rules every host applies to what a request carries: names, sizes, counts, and which
characters a string may hold. Standard library only (re, enum), so the CLI checks a request
against them without importing the domain's models (issue 20: `mycli exec` start-up)."""

from __future__ import annotations

import re
from enum import Enum

LOCK_NAME_PATTERN = r"^[A-Za-z0-9._/-]{1,128}$"
PLAYBOOK_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+$"
DEFAULT_TIMEOUT_SECONDS = 1800
MAX_TIMEOUT_SECONDS = 86400
MAX_COMMAND_LENGTH = 16384
MAX_ENV_ENTRIES = 100
MAX_ENV_VALUE_LENGTH = 8192
# Names and values together (UTF-8 bytes), on every backend: what AWS carries sealed.
MAX_ENV_TOTAL_BYTES = 16384
MAX_PAGE_SIZE = 100
MAX_LOG_PAGE_BYTES = 1024 * 1024
MAX_LOG_WAIT_SECONDS = 20.0
DEFAULT_MAX_LOG_BYTES = 100 * 1024 * 1024
# Running (non-terminal) executions allowed at once: per user, and on the whole platform.
DEFAULT_MAX_RUNNING_PER_USER = 10
DEFAULT_MAX_RUNNING_TOTAL = 50
# Stored secrets (domain/secrets.py): names, value size, and how many one execution may use.
# A value fits an SSM parameter (8 KB, advanced tier) and an env value (MAX_ENV_VALUE_LENGTH).
# Not "." or "..": on AWS a name is a segment of an SSM parameter path.
SECRET_NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
# Lowercase so it can name an ECS task definition family (letters, digits, _ and -).
IMAGE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
MAX_SECRET_VALUE_BYTES = 8 * 1024
MAX_SECRET_BYTES_PER_EXECUTION = 32 * 1024
MAX_SECRET_DESCRIPTION_LENGTH = 256
MAX_SECRET_IMAGES = 20
MAX_SECRETS_PER_EXECUTION = 20

_LOCK_NAME = re.compile(LOCK_NAME_PATTERN)


def env_size(env: dict[str, str]) -> int:
    """The bytes of an execution's env entries, names and values (UTF-8)."""
    return sum(len(name.encode()) + len(value.encode()) for name, value in env.items())


LOCK_NAME_RULE = "lock names are 1-128 characters of letters, digits and . _ / -"


def is_valid_lock_name(name: str) -> bool:
    return bool(_LOCK_NAME.fullmatch(name)) and text_problem(name, TextKind.NAME) is None


class TextKind(Enum):
    """What a string holds decides which characters it may contain (see `text_problem`)."""

    NAME = "name"  # emails, lock and env names, ids, filters: one line, no control characters
    COMMAND = "command"  # a shell string: tab, newline and carriage return are meaningful
    VALUE = "value"  # an env value: anything a process environment can carry


# What each kind may not hold: C0/C1 control characters (Unicode category Cc) and lone
# surrogates (Cs); a command keeps tab, newline and carriage return; a value only NUL.
_FORBIDDEN = {
    TextKind.NAME: re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]"),
    TextKind.COMMAND: re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]"),
    TextKind.VALUE: re.compile(r"[\x00\ud800-\udfff]"),
}


def text_problem(value: str, kind: TextKind) -> str | None:
    """Why `value` may not be stored or used as a `kind`, in words; None when it may.

    The one rule for strings, on both hosts: never NUL (no C string, environment or SQLite
    text holds it) nor a lone surrogate (not encodable as UTF-8); names hold no control
    character at all; a command only tab, newline and carriage return."""
    found = _FORBIDDEN[kind].search(value)
    if found is None:
        return None
    char = found.group()
    if char == "\x00":
        return "must not contain NUL"
    if "\ud800" <= char <= "\udfff":
        return "must not contain a lone surrogate (not valid Unicode text)"
    return f"must not contain control characters (found U+{ord(char):04X})"
