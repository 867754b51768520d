"""Durations as people read them (and as the CLI's --timeout and --wait-lock take them)."""

from __future__ import annotations


def format_seconds(seconds: float) -> str:
    """`45s`, `10m`, `1h30m`: how the CLI's durations read."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{f'{seconds}s' if seconds else ''}"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{f'{minutes}m' if minutes else ''}"
