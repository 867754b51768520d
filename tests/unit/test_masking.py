"""The masker: every verbatim occurrence of a value becomes ***, however output is split."""

from __future__ import annotations

import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator import masking
from orchestrator.masking import Masker


def masked_in_pieces(values: list[bytes], data: bytes, sizes: list[int]) -> bytes:
    masker = Masker(values)
    out, position = b"", 0
    for size in sizes:
        out += masker.feed(data[position : position + size])
        position += size
    out += masker.feed(data[position:])
    return out + masker.flush()


def reference(values: list[bytes], data: bytes) -> bytes:
    longest_first = sorted(set(values), key=len, reverse=True)
    return re.compile(b"|".join(map(re.escape, longest_first))).sub(b"***", data)


def test_a_value_split_across_reads_is_masked() -> None:
    assert masked_in_pieces([b"hunter2"], b"pw=hunter2!", [5, 2, 4]) == b"pw=***!"


def test_output_that_cannot_start_a_value_goes_out_at_once() -> None:
    masker = Masker([b"secret"])

    assert masker.feed(b"hello ") == b"hello "
    assert masker.feed(b"se") == b""  # could be the start of the value: kept back
    assert masker.feed(b"a") == b"sea"
    assert masker.flush() == b""


def test_the_kept_back_tail_goes_out_at_the_end_of_the_stream() -> None:
    masker = Masker([b"secret"])

    assert masker.feed(b"the sec") == b"the "
    assert masker.flush() == b"sec"


def test_where_two_values_start_together_the_longer_one_is_masked() -> None:
    assert masked_in_pieces([b"abc", b"abcdef"], b"xabcdefx abcx", [2, 2, 2]) == b"x***x ***x"


def test_without_values_nothing_changes() -> None:
    masker = Masker([])

    assert masker.feed(b"anything") == b"anything" and masker.flush() == b""


def test_any_split_masks_like_the_whole_output_at_once() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        values = [
            bytes(rng.choice(b"abc") for _ in range(rng.randint(1, 6)))
            for _ in range(rng.randint(1, 3))
        ]
        data = bytes(rng.choice(b"abcxy") for _ in range(rng.randint(0, 60)))
        sizes = [rng.randint(1, 7) for _ in range(rng.randint(0, 12))]

        assert masked_in_pieces(values, data, sizes) == reference(values, data), (values, data)


def test_the_script_masks_a_pipe_and_deletes_its_values_file(tmp_path: Path) -> None:
    values = tmp_path / "values"
    values.write_bytes(b"hunter2\0s3cr3t\0")

    done = subprocess.run(
        [sys.executable, masking.__file__, str(values)],
        input=b"a hunter2 b s3cr3t c hunter",
        capture_output=True,
        check=True,
    )

    assert done.stdout == b"a *** b *** c hunter"
    assert not values.exists()


@pytest.mark.parametrize("argv", [["masking.py"]])
def test_the_script_needs_a_values_file(argv: list[str]) -> None:
    assert masking.main(argv) == 2


# -- multi-line values: each line is masked on its own too -------------------------------------

PEM = (
    b"-----BEGIN OPENSSH PRIVATE KEY-----\n"
    b"b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    b"QyNTUxOQAAACDmWq9s5EFx7Rj2pXvXc0lYq4ZV0r3CkV4Ky9Qb8s0X3wAAAJh3o5Wqd6OV\n"
    b"qgAAAAtzc2gtZWQyNTUxOQ==\n"
    b"-----END OPENSSH PRIVATE KEY-----"
)


def test_each_line_of_a_multi_line_value_printed_alone_is_masked() -> None:
    lines = PEM.split(b"\n")

    out = masked_in_pieces([PEM], b"".join(b"> " + line + b"\n" for line in lines), [9, 40])

    assert out == b"> ***\n" * len(lines)


def test_the_whole_value_is_still_masked_as_one() -> None:
    assert masked_in_pieces([PEM], b"key=" + PEM + b"\n", [3, 70, 2]) == b"key=***\n"


def test_lines_of_a_crlf_value_are_masked_with_or_without_their_cr() -> None:
    value = b"first-line-of-it\r\nsecond-line-of-it\r\n"

    out = masked_in_pieces([value], b"first-line-of-it\nsecond-line-of-it\r\n", [5])

    assert out == b"***\n***\r\n"


def test_a_line_is_masked_without_the_blanks_around_it_as_read_prints_it() -> None:
    value = b"user: deploy\n  password: hunter2-long\n"

    out = masked_in_pieces([value], b"password: hunter2-long\n  password: hunter2-long\n", [])

    assert out == b"***\n  ***\n"


def test_lines_shorter_than_the_threshold_or_blank_are_left_alone() -> None:
    # Given a value whose lines include `}`, `==`, `EOF`, a blank one and one of 4 bytes
    value = b"{\n  abcd\n}\n==\nEOF\n   \n\t\nsecret-line\n"

    # When output holds those short lines elsewhere
    out = masked_in_pieces([value], b"if x; then\n}\n==\nEOF fi\nabcd secret-line\n", [4])

    # Then only the lines of MIN_LINE_BYTES or more are masked
    assert masking.MIN_LINE_BYTES == 4
    assert out == b"if x; then\n}\n==\nEOF fi\n*** ***\n"


def test_any_split_masks_multi_line_values_like_the_whole_output_at_once() -> None:
    rng = random.Random(11)
    for _ in range(2000):
        values = [
            bytes(rng.choice(b"abcd\n \r") for _ in range(rng.randint(1, 14)))
            for _ in range(rng.randint(1, 3))
        ]
        data = bytes(rng.choice(b"abcdx\n\r ") for _ in range(rng.randint(0, 80)))
        sizes = [rng.randint(1, 9) for _ in range(rng.randint(0, 12))]
        expanded = sorted(masking.values_to_mask(values))

        assert masked_in_pieces(values, data, sizes) == reference(expanded, data), (values, data)


def test_values_too_deeply_nested_for_one_tree_are_still_masked_longest_first() -> None:
    # Given a value whose lines are each a prefix of the next, 1500 deep
    value = b"\n".join(b"k" * size for size in range(4, 1500))
    data = b"k" * 1600 + b" kkkkkk kkk\n"

    out = masked_in_pieces([value], data, [700, 3])

    assert out == b"****** *** kkk\n"
    assert out == reference(sorted(masking.values_to_mask([value])), data)


@pytest.mark.parametrize(
    "printer",
    [
        'printf "%s\\n" "$S" | while read l; do echo "> $l"; done',
        'echo "$S" | sed -n 2p; echo "$S" | sed -n 4p >&2',
        'printf "%s\\n" "$S" | while IFS= read -r l; do printf "%s" "$l"; sleep 0.01; done',
    ],
)
def test_the_script_masks_a_multi_line_value_a_shell_prints_line_by_line(
    tmp_path: Path, printer: str
) -> None:
    # Given the mask step's values file with a PEM key, and a shell printing it by lines
    values = tmp_path / "values"
    values.write_bytes(PEM + b"\0")
    command = subprocess.Popen(
        ["sh", "-c", "{ " + printer + "; } 2>&1"],
        env={"PATH": "/usr/bin:/bin", "S": PEM.decode()},
        stdout=subprocess.PIPE,
    )

    # When the script masks what it prints
    masked = subprocess.run(
        [sys.executable, masking.__file__, str(values)],
        stdin=command.stdout,
        capture_output=True,
        check=True,
        timeout=30,
    )
    command.wait(timeout=30)

    # Then no line of the key is left in clear
    for line in PEM.split(b"\n"):
        assert line.strip() not in masked.stdout, masked.stdout
    assert masked.stdout.replace(b"***", b"").replace(b"> ", b"").strip(b"\n") == b""
