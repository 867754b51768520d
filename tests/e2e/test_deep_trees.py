"""Directory trees deeper than Python's recursion limit against a real `mycli local up`: a
run that makes one ends with its status recorded and its lock freed, its directory goes,
and a server starts again over such a tree left in its work directory."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from deployment import LocalDeployment, running_deployment

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.embedded_only("reads the embedded data directory's work tree"),
]
DEEP_TREE = "i=0; while [ $i -lt 1100 ]; do mkdir d && cd d; i=$((i+1)); done"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDeployment]:
    with running_deployment(tmp_path_factory.mktemp("deep")) as local:
        yield local


def work_left(platform: LocalDeployment) -> list[str]:
    work = platform.home / "data" / "work"
    deadline = time.monotonic() + 10
    while os.listdir(work) and time.monotonic() < deadline:
        time.sleep(0.05)
    return os.listdir(work)


def test_a_run_that_makes_a_1100_deep_tree_ends_and_frees_its_lock(
    platform: LocalDeployment,
) -> None:
    started = time.monotonic()
    result = platform.mycli("exec", "--lock", "stuck", "--timeout", "20", "--", DEEP_TREE)

    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 15, "ended well before its timeout"
    assert platform.locks() == []
    assert work_left(platform) == []
    assert platform.mycli("exec", "--lock", "stuck", "--", "true").returncode == 0


def test_a_server_starts_over_a_1200_deep_leftover_and_removes_it(
    platform: LocalDeployment,
) -> None:
    # Given a stopped server whose work directory holds a tree 1200 deep
    platform.down()
    fd = os.open(platform.home / "data" / "work", os.O_RDONLY | os.O_DIRECTORY)
    for name in ["leftover", *["d"] * 1200]:
        os.mkdir(name, dir_fd=fd)
        child = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = child
    os.close(fd)

    # When it is started again, Then it is up, the tree gone, and runs run
    platform.up()
    assert work_left(platform) == []
    assert platform.mycli("exec", "--", "echo up").stdout == "up\n"
