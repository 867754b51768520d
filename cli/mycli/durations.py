"""Durations as `mycli exec --timeout` and `--wait-lock` take them: seconds (`90`, `2.5`) or
a number with units (`90s`, `5m`, `2h`, `1h30m`)."""

from __future__ import annotations

import re

import click

DURATION_FORMS = "seconds (90) or a number with units h, m, s (90s, 5m, 2h, 1h30m)"
_NUMBER = r"\d+(?:\.\d+)?"
_PLAIN_SECONDS = re.compile(_NUMBER)
_WITH_UNITS = re.compile(rf"(?:(?P<h>{_NUMBER})h)?(?:(?P<m>{_NUMBER})m)?(?:(?P<s>{_NUMBER})s)?")
_SECONDS_PER_UNIT = {"h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> float:
    """The seconds TEXT stands for; ValueError saying what a duration looks like."""
    if _PLAIN_SECONDS.fullmatch(text):
        return float(text)
    units = _WITH_UNITS.fullmatch(text)
    if not text or units is None:
        raise ValueError(f"{text!r} is not a duration: give {DURATION_FORMS}")
    return sum(
        float(amount) * _SECONDS_PER_UNIT[unit]
        for unit, amount in units.groupdict().items()
        if amount is not None
    )


class Duration(click.ParamType[float, object]):
    """A duration option between `minimum` and `maximum` seconds; whole seconds (an int)
    if `whole`. Numbers (a playbook's `timeout: 900`) are taken as seconds."""

    name = "duration"

    def __init__(self, minimum: float, maximum: float, whole: bool = False) -> None:
        self.minimum, self.maximum, self.whole = minimum, maximum, whole

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = float(value)
        else:
            try:
                seconds = parse_duration(str(value))
            except ValueError as error:
                self.fail(str(error), param, ctx)
        if self.whole and not seconds.is_integer():
            self.fail(f"{value!r} is not a whole number of seconds", param, ctx)
        if not self.minimum <= seconds <= self.maximum:
            self.fail(
                f"{value!r} is {seconds:g} seconds, outside {self.minimum:g} to "
                f"{self.maximum:g} seconds",
                param,
                ctx,
            )
        return int(seconds) if self.whole else seconds
