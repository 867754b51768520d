"""A group's help page laid out as click lays it out (usage, description, options,
commands), without importing click: `mycli --help` is printed from the COMMANDS table."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Sequence

MAX_WIDTH = 80
COLUMN_MAX = 30
COLUMN_SPACING = 2
INDENT = "  "


def page_width() -> int:
    """click's HelpFormatter width: the terminal's, at most 78, at least 50."""
    return max(min(terminal_columns(), MAX_WIDTH) - 2, 50)


def terminal_columns() -> int:
    """shutil.get_terminal_size().columns, without importing shutil (and its compression
    modules): COLUMNS, else the terminal of stdout, else 80."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns > 0:
        return columns
    try:
        columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        columns = 0
    return columns or 80


def render_group_help(
    program: str,
    description: str,
    options: Sequence[tuple[str, str]],
    commands: Sequence[tuple[str, str]],
    width: int | None = None,
) -> str:
    width = width or page_width()
    out = [f"Usage: {program} [OPTIONS] COMMAND [ARGS]...\n", "\n", _paragraphs(description, width)]
    out += ["\n", "\nOptions:\n", _definitions(options, width)]
    limit = width - 6 - max(len(name) for name, _ in commands)
    shown = [(name, shortened(text, limit)) for name, text in commands]
    out += ["\nCommands:\n", _definitions(shown, width)]
    return "".join(out).rstrip("\n") + "\n"


def shortened(text: str, limit: int) -> str:
    """A command's short help as click shortens it to `limit` characters."""
    words = text.split()
    joined = " ".join(words)
    if len(joined) <= limit:
        return joined
    if limit < 3:
        return "..."
    return textwrap.shorten(joined, limit, placeholder="...", break_on_hyphens=False)


def _paragraphs(text: str, width: int) -> str:
    wrapper = textwrap.TextWrapper(
        width, initial_indent=INDENT, subsequent_indent=INDENT, replace_whitespace=False
    )
    paragraphs = [" ".join(p.split("\n")) for p in text.split("\n\n")]
    return "\n\n".join(wrapper.fill(paragraph) for paragraph in paragraphs)


def _definitions(rows: Sequence[tuple[str, str]], width: int) -> str:
    first_column = min(max(len(term) for term, _ in rows), COLUMN_MAX) + COLUMN_SPACING
    text_width = max(width - first_column - 2, 10)
    lines = []
    for term, text in rows:
        if len(term) <= first_column - COLUMN_SPACING:
            head = INDENT + term.ljust(first_column)
        else:
            lines.append(INDENT + term + "\n")
            head = " " * (first_column + len(INDENT))
        wrapped = textwrap.TextWrapper(text_width, replace_whitespace=False).wrap(text)
        lines.append(head + (wrapped[0] if wrapped else "") + "\n")
        lines += [" " * (first_column + len(INDENT)) + line + "\n" for line in wrapped[1:]]
    return "".join(lines)
