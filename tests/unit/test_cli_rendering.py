"""The CLI's rendering of times and counts for people (JSON keeps ISO times and numbers)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mycli.output import ago, counted, until, with_relative

NOW = datetime(2025, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("when", "shown"),
    [
        ("2025-05-01T12:32:00Z", "in 32 min"),
        ("2025-05-01T12:00:05Z", "in 5 s"),
        ("2025-05-01T14:10:00+00:00", "in 2 h"),
        ("2025-05-01T11:57:00Z", "3 min ago"),
        ("2025-05-01T12:00:00Z", "just now"),
    ],
)
def test_a_time_is_relative_to_now_either_way(when: str, shown: str) -> None:
    assert until(when, NOW) == shown


def test_a_past_time_reads_the_same_as_ago() -> None:
    assert until("2025-04-29T12:00:00Z", NOW) == ago("2025-04-29T12:00:00Z", NOW) == "2 d ago"


def test_a_missing_or_garbled_time_shows_nothing() -> None:
    assert until(None, NOW) is None
    assert until("yesterday", NOW) is None
    assert with_relative(None, NOW) is None


def test_a_time_in_a_key_value_view_keeps_its_iso_form_and_says_how_long_ago() -> None:
    assert with_relative("2025-05-01T11:57:00Z", NOW) == "2025-05-01T11:57:00Z (3 min ago)"


@pytest.mark.parametrize(
    ("count", "shown"), [(0, "0 files"), (1, "1 file"), (2, "2 files"), (1000, "1000 files")]
)
def test_a_count_agrees_with_its_noun(count: int, shown: str) -> None:
    assert counted(count, "file") == shown


def test_an_irregular_plural_is_given() -> None:
    assert (counted(1, "entry", "entries"), counted(3, "entry", "entries")) == (
        "1 entry",
        "3 entries",
    )
