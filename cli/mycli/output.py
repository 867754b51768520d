"""Rendering for people (tables, key/value) and for programs (--output json)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import click

from mycli.times import parse_time

OUTPUT_OPTION_HELP = "table for people, json for programs"


def output_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--output",
        "-o",
        type=click.Choice(["table", "json"]),
        default="table",
        show_default=True,
        help=OUTPUT_OPTION_HELP,
    )(function)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))


def emit_table(
    rows: Iterable[dict[str, Any]], columns: Sequence[tuple[str, str]], empty: str = "nothing"
) -> None:
    """Columns are (header, key). An empty listing says so (`empty`, on stderr)."""
    lines = table_lines(rows, columns)
    if not lines:
        click.echo(empty, err=True)
    for line in lines:
        click.echo(line)


def table_lines(rows: Iterable[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> list[str]:
    """The table's lines, headers first; none when there are no rows."""
    rendered = [[_cell(row.get(key)) for _, key in columns] for row in rows]
    if not rendered:
        return []
    headers = [header for header, _ in columns]
    widths = [max([len(h)] + [len(r[i]) for r in rendered]) for i, h in enumerate(headers)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [headers, *rendered]
    ]


def emit_fields(data: dict[str, Any], keys: Sequence[str]) -> None:
    """One `key  value` line for each of `keys` that has a value (none, '' or [] is left
    out: --output json shows every field)."""
    shown = [key for key in keys if data.get(key) not in (None, "", [])]
    width = max((len(key) for key in shown), default=0)
    for key in shown:
        click.echo(f"{key.ljust(width)}  {_cell(data.get(key))}")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "-"
    text = str(value).replace("\n", " ")
    return text if len(text) <= 60 else text[:57] + "..."


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """'1 file', '3 files', '0 files' (`plural` where adding an s is wrong)."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def ago(value: Any, now: datetime | None = None) -> str | None:
    """'just now', '42 s ago', '3 min ago', '5 h ago', '2 d ago' (tables; JSON keeps ISO)."""
    when = parse_time(value)
    if when is None:
        return None
    seconds = ((now or datetime.now(UTC)) - when).total_seconds()
    if seconds < 1:
        return "just now"
    return f"{human_duration(seconds, coarse=True)} ago"


def until(value: Any, now: datetime | None = None) -> str | None:
    """'in 32 min', 'in 5 s', or ago() once the moment has passed (tables; JSON keeps ISO)."""
    when = parse_time(value)
    if when is None:
        return None
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds < 1:
        return ago(value, now)
    return f"in {human_duration(seconds, coarse=True)}"


def with_relative(value: Any, now: datetime | None = None) -> str | None:
    """An ISO time with how far it is from now: '2024-05-01T10:00:00Z (3 min ago)'."""
    relative = until(value, now)
    return None if relative is None else f"{value} ({relative})"


def duration(start: Any, end: Any, now: datetime | None = None) -> str | None:
    """How long from `start` to `end` (or to now while it still runs): '850 ms', '12 s',
    '3 min 5 s', '2 h 10 min', '3 d 4 h'."""
    began = parse_time(start)
    if began is None:
        return None
    finished = parse_time(end) or now or datetime.now(UTC)
    seconds = max((finished - began).total_seconds(), 0.0)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return human_duration(seconds)


def human_duration(seconds: float, *, coarse: bool = False) -> str:
    """Whole seconds in the largest two units ('3 min 5 s'), or only the largest (coarse)."""
    text = _two_units(int(seconds))
    return " ".join(text.split()[:2]) if coarse else text


def _two_units(whole: int) -> str:
    if whole < 60:
        return f"{whole} s"
    minutes, second = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {second} s" if second and minutes < 10 else f"{minutes} min"
    hours, minute = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minute} min" if minute else f"{hours} h"
    days, hour = divmod(hours, 24)
    return f"{days} d {hour} h" if hour else f"{days} d"
