"""Masking secret values in a run's output (stdlib only).

Used by the local runner on each output stream, and run as a script by the ECS task's
`mask` container (`python3 masking.py VALUES_FILE [INPUT [DONE_FILE]]`: the values
NUL-separated in VALUES_FILE, which it deletes once read; INPUT, a FIFO the command writes
to, else stdin; masked output on stdout; DONE_FILE created once everything is written; no
VALUES_FILE: nothing to mask, it just creates DONE_FILE), so both deployments mask the same
way.

Every verbatim occurrence of a value becomes `***`, and so does each line of a multi-line
value (split on newlines, without surrounding whitespace or a `\r`), as a command printing
it line by line shows it, unless the line is shorter than MIN_LINE_BYTES. Output arrives in
pieces, and a value may be split between two of them: each stream keeps back the shortest
tail that could still be the start of a value (never more than the longest value less one
byte) until the next piece or the end shows what it is. Everything else goes out at once."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable

MASK = b"***"
READ_BYTES = 64 * 1024
# A line of a multi-line value shorter than this (once stripped of whitespace) is not masked
# on its own: such lines (`}`, `==`, `fi`, `EOF`) are everywhere in ordinary output, so
# masking them would mangle it and show where the value's lines are, for 24 bits at most.
MIN_LINE_BYTES = 4


def values_to_mask(values: Iterable[bytes]) -> set[bytes]:
    """Each value, and each line of a multi-line one that is long enough to mask alone."""
    masked = set()
    for value in values:
        if not value:
            continue
        masked.add(value)
        if b"\n" in value:
            lines = (line.strip() for line in value.split(b"\n"))
            masked.update(line for line in lines if len(line) >= MIN_LINE_BYTES)
    return masked


class Masker:
    """Masks one stream. `feed` returns what can go out now; `flush` the rest at its end."""

    def __init__(self, values: Iterable[bytes]) -> None:
        # Longest first: where two values start at the same place, the longer one is masked.
        self._values = sorted(values_to_mask(values), key=len, reverse=True)
        self._pattern = _pattern(self._values) if self._values else None
        self._carry = b""

    def feed(self, data: bytes) -> bytes:
        if self._pattern is None:
            return data
        buffer = self._carry + data
        boundary = len(buffer) - self._open_tail(buffer)
        out = bytearray()
        position = 0
        for match in self._pattern.finditer(buffer):
            # A match starting in the open tail may yet turn out to be part of a longer value.
            if match.start() >= boundary:
                break
            out += buffer[position : match.start()]
            out += MASK
            position = match.end()
        keep_from = max(boundary, position)
        out += buffer[position:keep_from]
        self._carry = buffer[keep_from:]
        return bytes(out)

    def flush(self) -> bytes:
        """The kept-back tail, masked: the stream has ended, nothing more can complete it."""
        rest, self._carry = self._carry, b""
        if self._pattern is None or not rest:
            return rest
        return self._pattern.sub(MASK, rest)

    def _open_tail(self, buffer: bytes) -> int:
        """The length of the longest tail of `buffer` that is a proper prefix of a value."""
        longest = 0
        for value in self._values:
            first = value[:1]
            start = max(len(buffer) - len(value) + 1, 0)
            while True:
                start = buffer.find(first, start)
                if start < 0 or len(buffer) - start <= longest:
                    break
                if value.startswith(buffer[start:]):
                    longest = len(buffer) - start
                    break
                start += 1
        return longest


_END = -1  # in a prefix tree: a value ends here
_Tree = dict[int, "_Tree"]


def _pattern(values: list[bytes]) -> re.Pattern[bytes]:
    """One expression matching any of `values`, the longest where several start at one place.
    Built as a prefix tree, so at each place of the output it tries only the values that
    start with what it has read (an alternation of hundreds of lines tries each in turn);
    a plain alternation, longest first, when the tree is too deep to compile."""
    tree: _Tree = {}
    for value in values:
        node = tree
        for byte in value:
            node = node.setdefault(byte, {})
        node[_END] = {}
    try:
        return re.compile(_expression(tree))
    except RecursionError:
        return re.compile(b"|".join(re.escape(value) for value in values))


def _expression(node: _Tree) -> bytes:
    """The expression of a prefix tree: each branch tried before ending here (the longer
    value first)."""
    chain = bytearray()
    while len(node) == 1 and _END not in node:
        ((byte, node),) = node.items()
        chain += re.escape(bytes([byte]))
    branches = [
        re.escape(bytes([byte])) + _expression(child)
        for byte, child in node.items()
        if byte != _END
    ]
    if not branches:
        return bytes(chain)
    group = b"(?:" + b"|".join(branches) + b")"
    return bytes(chain) + (group + b"?" if _END in node else group)


def read_values(path: str) -> list[bytes]:
    """The NUL-separated values in the file at `path`, which is deleted once read."""
    with open(path, "rb") as handle:
        data = handle.read()
    os.unlink(path)
    return [value for value in data.split(b"\0") if value]


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: masking.py VALUES_FILE [INPUT [DONE_FILE]]", file=sys.stderr)
        return 2
    done = argv[3] if len(argv) > 3 else None
    if os.path.exists(argv[1]):
        masker = Masker(read_values(argv[1]))
        out = sys.stdout.buffer
        source = argv[2] if len(argv) > 2 else sys.stdin.fileno()
        with open(source, "rb", buffering=0) as stream:
            while data := stream.read(READ_BYTES):
                out.write(masker.feed(data))
                out.flush()
        out.write(masker.flush())
        out.flush()
    if done is not None:
        with open(done, "wb"):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
