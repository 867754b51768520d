"""Where the shell reads each {{ params.NAME }} of a string command: a small scanner of
sh's quoting (single and double quotes, backslash escapes, backticks, $(...), $((...)),
${...}, comments and here-documents).

A shell-quoted value ('it'"'"'s') is one argument only where the shell reads quotes: as
a word of its own, outside any quotes. Inside "...", '...', a here-document or backticks
the same text is read differently (inside "..." `$(id)` runs), so a quoted param is
refused there; inside $(...) and ${...} it is refused too, as the simple rule to state."""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass

from mycli.playbooks.model import PARAM_REFERENCE, REFERENCE, Location, Playbook

# Each context the scanner can be in, as a user would name it.
_CONTEXTS = {
    "'": "single quotes '...'",
    '"': 'double quotes "..."',
    "`": "backticks `...`",
    "$(": "a command substitution $(...)",
    "${": "a parameter expansion ${...}",
    "<<": "a here-document",
}
_WORD_BREAKS = frozenset(" \t\n;&|()<>")
_HEREDOC_WORD = re.compile(r"[ \t]*((?:[^\s;&|()<>\\'\"]|\\.|'[^']*'|\"(?:[^\"\\]|\\.)*\")+)")


@dataclass(frozen=True)
class Reference:
    """One {{ params.NAME }} of a command and the shell context it sits in (None: a word
    of its own, outside quotes)."""

    name: str
    offset: int
    context: str | None


def references(command: str) -> list[Reference]:
    """Every param reference of `command`, with where the shell would read it."""
    return list(_Scanner(command).scan())


class _Scanner:
    def __init__(self, command: str) -> None:
        self._text = command
        self._stack: list[str] = []  # the open contexts, innermost last
        self._parens: list[int] = []  # open ( inside each $(...)
        self._heredocs: list[tuple[str, bool]] = []  # delimiters waiting for the next line

    def scan(self) -> Iterator[Reference]:
        text, i, word_start = self._text, 0, True
        while i < len(text):
            reference = REFERENCE.match(text, i)
            if reference is not None:
                yield self._reference(reference, self._stack[-1] if self._stack else None)
                i, word_start = reference.end(), False
                continue
            top = self._stack[-1] if self._stack else None
            char = text[i]
            if top == "'":
                if char == "'":
                    self._stack.pop()
                i += 1
            elif char == "\\":
                i, word_start = i + 2, False
            elif top == "`":
                if char == "`":
                    self._stack.pop()
                i += 1
            elif top == '"':
                i = self._in_double_quotes(i)
            else:
                if char == "#" and word_start:
                    newline = text.find("\n", i)
                    i = len(text) if newline < 0 else newline
                    continue
                if char == "\n" and self._heredocs:
                    i = yield from self._heredoc_bodies(i + 1)
                    word_start = True
                    continue
                if text.startswith("<<<", i):  # a here-string: its word is read as words are
                    i, word_start = i + 3, True
                    continue
                if text.startswith("<<", i):
                    i = self._heredoc_operator(i + 2)
                    word_start = False
                    continue
                i = self._in_code(i, top)
                word_start = char in _WORD_BREAKS
                continue
            word_start = False

    def _reference(self, match: re.Match[str], context: str | None) -> Reference:
        name = PARAM_REFERENCE.fullmatch(match.group(1))
        # The model refuses anything but {{ params.NAME }} before this is asked.
        return Reference(name.group(1) if name else "", match.start(), context)

    def _open(self, context: str, i: int) -> int:
        self._stack.append(context)
        if context == "$(":
            self._parens.append(0)
        return i + len(context)

    def _close(self) -> None:
        if self._stack.pop() == "$(":
            self._parens.pop()

    def _in_double_quotes(self, i: int) -> int:
        text = self._text
        if text[i] == '"':
            self._close()
            return i + 1
        if text[i] == "`":
            return self._open("`", i)
        if text.startswith("$(", i) or text.startswith("${", i):
            return self._open(text[i : i + 2], i)
        return i + 1

    def _in_code(self, i: int, top: str | None) -> int:
        """One step outside quotes: at the top, inside $(...) or inside ${...}."""
        text, char = self._text, self._text[i]
        if char in "'\"`":
            return self._open(char, i)
        if text.startswith("$(", i) or text.startswith("${", i):
            return self._open(text[i : i + 2], i)
        if top == "$(" and char == "(":
            self._parens[-1] += 1
        elif top == "$(" and char == ")":
            if self._parens[-1] == 0:
                self._close()
            else:
                self._parens[-1] -= 1
        elif top == "${" and char == "}":
            self._close()
        return i + 1

    def _heredoc_operator(self, i: int) -> int:
        """After `<<` (or `<<-`): note the delimiter, whose body starts on the next line."""
        strip_tabs = self._text.startswith("-", i)
        if strip_tabs:
            i += 1
        word = _HEREDOC_WORD.match(self._text, i)
        if word is None:
            return i
        delimiter = re.sub(r"\\(.)", r"\1", word.group(1)).replace("'", "").replace('"', "")
        self._heredocs.append((delimiter, strip_tabs))
        return word.end()

    def _heredoc_bodies(self, i: int) -> Generator[Reference, None, int]:
        """The bodies of the pending here-documents, from `i`; returns where they end.
        Every reference in a body is in a here-document, quoted delimiter or not."""
        text = self._text
        for delimiter, strip_tabs in self._heredocs:
            while i < len(text):
                end = text.find("\n", i)
                end = len(text) if end < 0 else end
                line = text[i:end]
                for reference in REFERENCE.finditer(line):
                    yield Reference(
                        self._reference(reference, "<<").name, i + reference.start(), "<<"
                    )
                i = end + 1
                if (line.lstrip("\t") if strip_tabs else line) == delimiter:
                    break
        self._heredocs.clear()
        return min(i, len(text))


def quoting_problems(playbook: Playbook) -> list[tuple[Location, str]]:
    """A string command's shell-quoted params that sit where the shell would not read
    their quoting (see the module's docstring), each with what to write instead."""
    if not isinstance(playbook.command, str):
        return []
    found: list[tuple[Location, str]] = []
    for reference in references(playbook.command):
        param = playbook.params.get(reference.name)
        if reference.context is None or param is None or not param.quote:
            continue
        written = f"{{{{ params.{reference.name} }}}}"
        found.append(
            (
                ("command",),
                f"{written} sits inside {_CONTEXTS[reference.context]}: write it outside "
                f'quotes (like echo "hello "{written}), its value is shell-quoted for you',
            )
        )
    return found
