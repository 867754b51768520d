"""Every process of a run ends with the run: children that called setsid or double-forked
are killed when the main process exits, times out or is cancelled, and the run's end is
reported without waiting for them. Both ways of tracking run: a cgroup v2 (where this host
allows one) and the environment marker alone."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.adapters.clock import SystemClock
from orchestrator.adapters.local.runner import (
    LocalProcessRunner,
    run_cgroup_base,
)
from orchestrator.domain.models import LaunchSpec
from processes import marked
from support import started_execution

ESCAPES = {
    "setsid": "setsid sleep 60 &",
    "double-fork": "(sleep 60 &) &",
}
CGROUPS_HERE = run_cgroup_base(Path("/tmp/probe")) is not None


class Exits:
    def __init__(self) -> None:
        self.codes: dict[str, tuple[int, bool]] = {}
        self.at: dict[str, float] = {}
        self.changed = threading.Condition()

    def on_running(self, execution_id: str) -> None:
        return None

    def on_log_truncated(self, execution_id: str, offset: int) -> None:
        return None

    def on_exit(self, execution_id: str, exit_code: int, *, timed_out: bool) -> None:
        with self.changed:
            self.codes[execution_id] = (exit_code, timed_out)
            self.at[execution_id] = time.monotonic()
            self.changed.notify_all()

    def wait(self, execution_id: str, timeout: float = 15) -> tuple[int, bool]:
        with self.changed:
            assert self.changed.wait_for(lambda: execution_id in self.codes, timeout), "no exit"
        return self.codes[execution_id]


@pytest.fixture(
    params=[
        pytest.param(True, id="cgroup", marks=pytest.mark.skipif(not CGROUPS_HERE, reason="")),
        pytest.param(False, id="marker"),
    ]
)
def runner(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LocalProcessRunner]:
    runner = LocalProcessRunner(
        tmp_path / "work",
        tmp_path / "logs",
        SystemClock(),
        kill_grace_seconds=0.5,
        cgroups=request.param,
    )
    assert runner.tracking == ("cgroup" if request.param else "marker")
    yield runner
    runner.stop_all()


def launch(runner: LocalProcessRunner, command: str, timeout: int = 60) -> tuple[str, Exits]:
    exits = Exits()
    runner.subscribe(exits)
    execution_id = uuid.uuid4().hex
    runner.launch(LaunchSpec(execution_id, command, {}, timeout))
    return execution_id, exits


def wait_for(condition: object, seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.02)


@pytest.mark.parametrize("escape", sorted(ESCAPES))
def test_an_escaped_child_ends_when_the_command_exits(
    runner: LocalProcessRunner, escape: str
) -> None:
    # Given a command that leaves an escaped child holding its output pipes, then exits
    execution_id, exits = launch(runner, f"{ESCAPES[escape]} echo started; exit 3")
    started = time.monotonic()

    # When it ends
    code, timed_out = exits.wait(execution_id)

    # Then the end is reported at once and nothing of the run is left
    assert (code, timed_out) == (3, False)
    assert exits.at[execution_id] - started < 3
    assert marked(execution_id) == []


@pytest.mark.parametrize("escape", sorted(ESCAPES))
def test_an_escaped_child_ends_when_the_command_times_out(
    runner: LocalProcessRunner, escape: str
) -> None:
    # Given a command with an escaped child that runs past its timeout
    execution_id, exits = launch(runner, f"{ESCAPES[escape]} sleep 60", timeout=1)

    # When the timeout passes
    _, timed_out = exits.wait(execution_id)

    # Then it ends as timed out within the kill grace, and nothing of the run is left
    assert timed_out
    assert time.monotonic() - exits.at[execution_id] < 1
    assert marked(execution_id) == []


@pytest.mark.parametrize("escape", sorted(ESCAPES))
def test_an_escaped_child_ends_when_the_run_is_cancelled(
    runner: LocalProcessRunner, escape: str, tmp_path: Path
) -> None:
    # Given a running command with an escaped child that ignores SIGTERM
    ready = tmp_path / "ready"
    command = f"(trap '' TERM; {ESCAPES[escape]}) ; touch {ready}; sleep 60"
    execution_id, exits = launch(runner, command)
    wait_for(ready.exists)
    wait_for(lambda: len(marked(execution_id)) >= 3)

    # When it is cancelled
    started = time.monotonic()
    runner.stop(started_execution(execution_id, command, "0", None), "cancelled")
    code, _ = exits.wait(execution_id)

    # Then it ends within the kill grace (0.5 s) and a little, and nothing is left
    assert code == 128 + 15
    assert exits.at[execution_id] - started < 3
    assert marked(execution_id) == []


def test_the_server_stopping_ends_escaped_children_too(runner: LocalProcessRunner) -> None:
    # Given two runs, each with an escaped child that ignores SIGTERM
    ids = [launch(runner, f"trap '' TERM; {ESCAPES[name]} sleep 60")[0] for name in ESCAPES]
    wait_for(lambda: all(len(marked(i)) >= 2 for i in ids))

    # When the server stops them all
    started = time.monotonic()
    runner.stop_all()

    # Then every process of both is gone within the grace and a little
    assert time.monotonic() - started < 3
    assert all(marked(i) == [] for i in ids)
    assert runner.active_count == 0


def test_a_restarted_server_kills_what_a_dead_ones_runs_left(
    runner: LocalProcessRunner, tmp_path: Path
) -> None:
    # Given a run with an escaped child, whose server "died" (its runner is forgotten)
    execution_id, _ = launch(runner, f"{ESCAPES['setsid']} sleep 60")
    wait_for(lambda: len(marked(execution_id)) >= 2)

    # When a new runner on the same data directory recovers
    successor = LocalProcessRunner(
        tmp_path / "work", tmp_path / "logs", SystemClock(), cgroups=runner.tracking == "cgroup"
    )
    found = successor.kill_leftovers([started_execution(execution_id, "x", "0", None)])

    # Then every process of that run is gone
    assert found == 1
    wait_for(lambda: marked(execution_id) == [], seconds=3)
    assert marked(execution_id) == []
