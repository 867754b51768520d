"""The one rule for what strings may hold (domain.models.text_problem), used by every host."""

from __future__ import annotations

import pytest

from orchestrator.domain.models import TextKind, is_valid_lock_name, text_problem


@pytest.mark.parametrize(
    ("value", "kind", "problem"),
    [
        ("alice@example.com", TextKind.NAME, None),
        ("zoë@exämple.org", TextKind.NAME, None),
        ("a\x00b", TextKind.NAME, "must not contain NUL"),
        ("a\x00b", TextKind.COMMAND, "must not contain NUL"),
        ("a\x00b", TextKind.VALUE, "must not contain NUL"),
        ("a\ud800", TextKind.VALUE, "must not contain a lone surrogate (not valid Unicode text)"),
        ("a\ud800", TextKind.NAME, "must not contain a lone surrogate (not valid Unicode text)"),
        ("a\tb", TextKind.NAME, "must not contain control characters (found U+0009)"),
        ("a\x85b", TextKind.NAME, "must not contain control characters (found U+0085)"),
        ("a\x7f", TextKind.NAME, "must not contain control characters (found U+007F)"),
        ("for x in 1 2; do\n\techo $x\r\ndone", TextKind.COMMAND, None),
        ("echo \x1b[31m", TextKind.COMMAND, "must not contain control characters (found U+001B)"),
        ("line\nline\t\x1b[0m é 🙂", TextKind.VALUE, None),
        ("", TextKind.NAME, None),
    ],
)
def test_what_each_kind_of_string_may_hold(value: str, kind: TextKind, problem: str | None) -> None:
    assert text_problem(value, kind) == problem


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("infra/prod-1.x_y", True),
        ("deploy\n", False),
        ("a b", False),
        ("", False),
        ("x" * 129, False),
    ],
)
def test_lock_names_match_the_whole_pattern(name: str, valid: bool) -> None:
    assert is_valid_lock_name(name) is valid
