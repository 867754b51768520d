"""`parse_duration` and the Duration option type `mycli exec --timeout`/`--wait-lock` use."""

from __future__ import annotations

import click
import pytest

from mycli.durations import Duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90),
        ("2.5", 2.5),
        ("0", 0),
        ("90s", 90),
        ("5m", 300),
        ("2h", 7200),
        ("1h30m", 5400),
        ("1h30m15s", 5415),
        ("2m30s", 150),
        ("1.5m", 90),
        ("0.5s", 0.5),
    ],
)
def test_a_duration_is_seconds_or_numbers_with_units(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["", "m", "5x", "5 m", " 5", "-5", "1e3", "nan", "inf", "30m1h", "5M", "1h 30m", "5ms"]
)
def test_anything_else_says_what_a_duration_looks_like(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration: give seconds"):
        parse_duration(text)


def test_whole_durations_are_ints_within_their_range() -> None:
    timeout = Duration(1, 86400, whole=True)

    assert timeout.convert("5m", None, None) == 300
    assert isinstance(timeout.convert("5m", None, None), int)
    assert timeout.convert(900, None, None) == 900  # a playbook's `timeout: 900`
    assert timeout.convert("24h", None, None) == 86400


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("0", "'0' is 0 seconds, outside 1 to 86400 seconds"),
        ("24h1s", "'24h1s' is 86401 seconds, outside 1 to 86400 seconds"),
        ("1.5s", "'1.5s' is not a whole number of seconds"),
        (True, "'True' is not a duration"),
        ("5x", "'5x' is not a duration"),
    ],
)
def test_a_bad_whole_duration_is_refused_in_words(value: object, words: str) -> None:
    with pytest.raises(click.BadParameter, match=words):
        Duration(1, 86400, whole=True).convert(value, None, None)


def test_fractional_durations_are_floats() -> None:
    wait = Duration(0, 86400)

    assert wait.convert("0.5s", None, None) == 0.5
    assert wait.convert("2m", None, None) == 120.0
    assert isinstance(wait.convert("2m", None, None), float)
