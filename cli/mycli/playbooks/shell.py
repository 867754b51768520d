"""How a string command refers to its params: each {{ params.NAME }} becomes a reference to
the environment variable MYCLI_PARAM_NAME, which the shell expands. An expansion's result is
never read again as shell code, so a value is data wherever the reference lands.

A small scanner of sh's quoting picks the form that yields exactly the value: `"${VAR}"` as
a word (or in $(...), ${...}, backticks, a comment) and `${VAR}` inside "..." or a
here-document. It is a lint, not a safeguard: read wrongly, a reference gives a split or a
literal text, never a command. It refuses the places where the shell would not expand the
reference as written, or would evaluate the value: single quotes, a here-document with a
quoted delimiter, after a backslash or a `$`, and arithmetic $((...))."""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from enum import Enum

from mycli.playbooks.model import PARAM_REFERENCE, REFERENCE, Location, Playbook, param_variable

_WORD_BREAKS = frozenset(" \t\n;&|(<>")
_HEREDOC_WORD = re.compile(r"[ \t]*((?:[^\s;&|()<>\\'\"]|\\.|'[^']*'|\"(?:[^\"\\]|\\.)*\")+)")


class Context(Enum):
    """Where the shell reads a reference, and what that means for it."""

    WORD = "is a word"  # rendered "${VAR}"
    QUOTED = 'sits inside "..." or a here-document'  # rendered ${VAR}
    SINGLE_QUOTES = "sits inside single quotes '...', where the shell expands nothing"
    QUOTED_HEREDOC = (
        "sits in a here-document with a quoted delimiter (<<'EOF'), where the shell expands nothing"
    )
    ESCAPED = "follows a backslash, so the shell would not expand it"
    DOLLAR = "follows a $, which the shell would read with it"
    ARITHMETIC = (
        "sits inside an arithmetic expansion $((...)), which evaluates the value as an expression"
    )

    @property
    def refused(self) -> bool:
        return self not in (Context.WORD, Context.QUOTED)


_ADVICE = {
    Context.SINGLE_QUOTES: "write it outside them, or inside double quotes",
    Context.QUOTED_HEREDOC: "unquote the delimiter (<<EOF)",
    Context.ESCAPED: "remove the backslash",
    Context.DOLLAR: "remove the $",
    Context.ARITHMETIC: "bound the param with `pattern` and `quote: false`, or compute elsewhere",
}


def contexts(command: str) -> dict[int, Context]:
    """The context of each {{ ... }} of `command`, by its offset; a reference the scanner
    does not report (in a comment, say) is a WORD."""
    return dict(_Scanner(command).scan())


class _Scanner:
    def __init__(self, text: str) -> None:
        self._text = text
        self._stack: list[str] = []  # open contexts, innermost last: ' " ` $( ${ $((
        self._parens: list[int] = []  # open ( inside each $( and $((
        self._heredocs: list[tuple[str, bool, bool]] = []  # (delimiter, strip tabs, quoted)
        self._escaped = False

    def scan(self) -> Iterator[tuple[int, Context]]:
        text, i, word_start = self._text, 0, True
        while i < len(text):
            reference = REFERENCE.match(text, i)
            if reference is not None:
                yield i, self._context(i)
                self._escaped, word_start = False, False
                i = reference.end()
                continue
            self._escaped = False
            top = self._stack[-1] if self._stack else None
            char = text[i]
            if top == "'":
                if char == "'":
                    self._stack.pop()
                i += 1
            elif char == "\\":
                self._escaped = text.startswith("{{", i + 1)
                i += 1 if self._escaped else 2
                word_start = False
            elif top == "$((":
                i = self._in_arithmetic(i)
            elif top in {'"', "`"}:
                i = self._in_quotes(i, top)
            elif char == "#" and word_start:
                newline = text.find("\n", i)
                i = len(text) if newline < 0 else newline
            elif char == "\n" and self._heredocs:
                i = yield from self._heredoc_bodies(i + 1)
                word_start = True
            elif text.startswith("<<<", i):
                i, word_start = i + 3, True
            elif text.startswith("<<", i):
                i, word_start = self._heredoc_operator(i + 2), False
            else:
                i, word_start = self._in_code(i, top)

    def _context(self, i: int) -> Context:
        if self._escaped:
            return Context.ESCAPED
        if i > 0 and self._text[i - 1] == "$":
            return Context.DOLLAR
        if "$((" in self._stack:
            return Context.ARITHMETIC
        top = self._stack[-1] if self._stack else None
        if top == "'":
            return Context.SINGLE_QUOTES
        return Context.QUOTED if top == '"' else Context.WORD

    def _open(self, context: str, i: int) -> int:
        self._stack.append(context)
        if context in ("$(", "$(("):
            self._parens.append(0)
        return i + len(context)

    def _close(self, width: int, i: int) -> int:
        if self._stack.pop() in ("$(", "$(("):
            self._parens.pop()
        return i + width

    def _opening(self, i: int) -> str | None:
        if self._text.startswith("${{", i):
            return None  # a $ before a reference (refused), not a ${...}
        for opening in ("$((", "$(", "${"):
            if self._text.startswith(opening, i):
                return opening
        return None

    def _in_quotes(self, i: int, top: str) -> int:
        """One step inside "..." or backticks: the closing quote, or a nested expansion."""
        char = self._text[i]
        if char == top:
            return self._close(1, i)
        if char == "`":
            return self._open("`", i)
        opening = self._opening(i)
        return self._open(opening, i) if opening else i + 1

    def _in_arithmetic(self, i: int) -> int:
        char = self._text[i]
        if char == "(":
            self._parens[-1] += 1
        elif char == ")" and self._parens[-1] == 0 and self._text.startswith("))", i):
            return self._close(2, i)
        elif char == ")":
            self._parens[-1] -= 1
        return i + 1

    def _in_code(self, i: int, top: str | None) -> tuple[int, bool]:
        """One step outside quotes (at the top, in $(...) or ${...}); the new position and
        whether a word starts there."""
        char = self._text[i]
        if char in "'\"`":
            return self._open(char, i), False
        opening = self._opening(i)
        if opening is not None:
            return self._open(opening, i), False
        if top == "$(" and char == "(":
            self._parens[-1] += 1
        elif top == "$(" and char == ")":
            if self._parens[-1] == 0:
                return self._close(1, i), False  # $(...) ends inside a word
            self._parens[-1] -= 1
        elif top == "${" and char == "}":
            return self._close(1, i), False
        return i + 1, char in _WORD_BREAKS or char == ")"

    def _heredoc_operator(self, i: int) -> int:
        """After `<<` (or `<<-`): note the delimiter, whose body starts on the next line."""
        strip_tabs = self._text.startswith("-", i)
        i += strip_tabs
        word = _HEREDOC_WORD.match(self._text, i)
        if word is None:
            return i
        written = word.group(1)
        delimiter = re.sub(r"\\(.)", r"\1", written).replace("'", "").replace('"', "")
        self._heredocs.append((delimiter, strip_tabs, delimiter != written))
        return word.end()

    def _heredoc_bodies(self, i: int) -> Generator[tuple[int, Context], None, int]:
        """The bodies of the pending here-documents, from `i`; returns where they end. In
        a body with an unquoted delimiter the shell expands as inside "..."."""
        text = self._text
        for delimiter, strip_tabs, quoted in self._heredocs:
            while i < len(text):
                end = text.find("\n", i)
                end = len(text) if end < 0 else end
                line = text[i:end]
                for reference in REFERENCE.finditer(line):
                    at = i + reference.start()
                    yield at, self._body_context(at, quoted)
                i = end + 1
                if (line.lstrip("\t") if strip_tabs else line) == delimiter:
                    break
        self._heredocs.clear()
        return min(i, len(text))

    def _body_context(self, at: int, quoted: bool) -> Context:
        if quoted:
            return Context.QUOTED_HEREDOC
        before = self._text[:at]
        backslashes = len(before) - len(before.rstrip("\\"))
        if backslashes % 2:
            return Context.ESCAPED
        return Context.DOLLAR if before.endswith("$") else Context.QUOTED


def render_command(command: str, pasted: dict[str, str]) -> str:
    """`command` with each reference in place: a `quote: false` param's value (in `pasted`)
    as written, any other as its variable, in the form its context needs."""
    found = contexts(command)

    def replace(reference: re.Match[str]) -> str:
        name = _name(reference)
        if name in pasted:
            return pasted[name]
        variable = param_variable(name)
        if found.get(reference.start(), Context.WORD) is Context.QUOTED:
            return f"${{{variable}}}"
        return f'"${{{variable}}}"'

    return REFERENCE.sub(replace, command)


def quoting_problems(playbook: Playbook) -> list[tuple[Location, str]]:
    """References of a string command (not `quote: false` ones) that the shell would not
    expand as written, or would evaluate, each with what to write instead."""
    if not isinstance(playbook.command, str):
        return []
    found: list[tuple[Location, str]] = []
    for offset, context in contexts(playbook.command).items():
        reference = REFERENCE.match(playbook.command, offset)
        assert reference is not None
        param = playbook.params.get(_name(reference))
        if not context.refused or param is None or not param.quote:
            continue
        found.append((("command",), f"{reference.group()} {context.value}: {_ADVICE[context]}"))
    return found


def _name(reference: re.Match[str]) -> str:
    matched = PARAM_REFERENCE.fullmatch(reference.group(1))
    return matched.group(1) if matched else ""
