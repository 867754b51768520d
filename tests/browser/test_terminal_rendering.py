"""The log renderer (terminal.js) in Chromium: ANSI colours, carriage returns, sequences
and characters split across chunks, stderr, and text that looks like HTML."""

from __future__ import annotations

from typing import Any

import pytest
from browser_harness import Console

RENDER = """async ([chunks]) => {
  const { Terminal } = await import('./terminal.js');
  const box = document.createElement('div');
  document.body.append(box);
  const terminal = new Terminal(box);
  for (const [stream, bytes] of chunks) terminal.write(new Uint8Array(bytes), stream);
  terminal.flush();
  const lines = Array.from(box.children, (line) => ({
    text: line.textContent,
    stderr: line.classList.contains('has-stderr'),
    spans: Array.from(line.children, (s) => [s.textContent, s.className]),
  }));
  box.remove();
  return lines;
}"""


@pytest.fixture
def render(console: Console) -> Any:
    console.open()
    console.page.get_by_role("heading", name="Sign in").wait_for()

    def run(*chunks: tuple[str, bytes]) -> list[dict[str, Any]]:
        payload = [[stream, list(data)] for stream, data in chunks]
        lines: list[dict[str, Any]] = console.page.evaluate(RENDER, [payload])
        return lines

    return run


def test_sgr_colours_bold_and_reset_become_classes(render: Any) -> None:
    [line] = render(("stdout", b"\x1b[1;32mok\x1b[0m plain \x1b[31mred\x1b[91mbright\x1b[39m"))
    assert line["text"] == "ok plain redbright"
    assert line["spans"] == [
        ["ok", "fg2 bold"],
        [" plain ", ""],
        ["red", "fg1"],
        ["bright", "fg9"],
    ]


def test_a_carriage_return_overwrites_the_line_like_a_terminal(render: Any) -> None:
    lines = render(("stdout", b"10%\r50%\r100%\ndone\rD\n"))
    assert [line["text"] for line in lines] == ["100%", "Done", ""]
    [longer] = render(("stdout", b"downloading...\rok"))
    assert longer["text"] == "okwnloading..."
    [erased] = render(("stdout", b"downloading...\rok\x1b[K"))
    assert erased["text"] == "ok"


def test_sequences_and_utf8_split_across_chunks_are_joined(render: Any) -> None:
    check = "✔".encode()
    line, after = render(
        ("stdout", b"\x1b[3"), ("stdout", b"3mwarn" + check[:1]), ("stdout", check[1:] + b"\n")
    )
    assert after["text"] == ""
    assert line["text"] == "warn✔"
    assert line["spans"] == [["warn✔", "fg3"]]


def test_stderr_is_marked_and_other_sequences_are_dropped(render: Any) -> None:
    lines = render(
        ("stdout", b"out \x1b]0;title\x07\x1b[?25l"),
        ("stderr", b"err\n"),
        ("combined", b"both\n"),
    )
    assert [(line["text"], line["stderr"]) for line in lines[:2]] == [
        ("out err", True),
        ("both", False),
    ]
    assert lines[0]["spans"] == [["out ", ""], ["err", "stderr"]]


def test_text_that_looks_like_html_stays_text(render: Any, console: Console) -> None:
    [line] = render(("stdout", b"<img src=x onerror=window.__pwned=1></script>&amp;"))
    assert line["text"] == "<img src=x onerror=window.__pwned=1></script>&amp;"
    assert console.page.evaluate("() => window.__pwned") is None
