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
