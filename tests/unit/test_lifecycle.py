"""Execution statuses only move forward, and a terminal status is final."""

from __future__ import annotations

import pytest

from orchestrator.domain.executions import outcome_of_exit
from orchestrator.domain.models import TERMINAL_STATUSES, Execution, ExecutionStatus

S = ExecutionStatus


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (S.PENDING, S.STARTING),
        (S.PENDING, S.FAILED),
        (S.STARTING, S.RUNNING),
        (S.RUNNING, S.CANCELLING),
        (S.RUNNING, S.SUCCEEDED),
        (S.CANCELLING, S.CANCELLED),
        (S.PENDING, S.RUNNING),
    ],
)
def test_forward_moves_are_allowed(source: S, target: S) -> None:
    assert source.can_move_to(target)


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (S.RUNNING, S.STARTING),
        (S.CANCELLING, S.RUNNING),
        (S.STARTING, S.STARTING),
        *[(terminal, other) for terminal in sorted(TERMINAL_STATUSES) for other in S],
    ],
)
def test_backward_moves_and_moves_out_of_a_terminal_status_are_refused(
    source: S, target: S
) -> None:
    assert not source.can_move_to(target)


def test_sources_of_a_terminal_status_are_every_active_status() -> None:
    assert set(S.sources_of(S.FAILED)) == {S.QUEUED, S.PENDING, S.STARTING, S.RUNNING, S.CANCELLING}


def _execution(status: S) -> Execution:
    return Execution(
        execution_id="e1",
        user_email="a@b.c",
        command="true",
        status=status,
        started_at="2026-01-01T00:00:00.000Z",
        timeout_seconds=60,
        cancelled_by="admin@b.c",
    )


@pytest.mark.parametrize(
    ("status", "code", "timed_out", "expected"),
    [
        (S.RUNNING, 0, False, S.SUCCEEDED),
        (S.RUNNING, 3, False, S.FAILED),
        (S.RUNNING, 143, True, S.TIMED_OUT),
        (S.CANCELLING, 143, False, S.CANCELLED),
        (S.CANCELLING, 0, True, S.TIMED_OUT),
    ],
)
def test_outcome_of_an_exit(status: S, code: int, timed_out: bool, expected: S) -> None:
    outcome, reason = outcome_of_exit(_execution(status), code, timed_out=timed_out)
    assert outcome is expected
    assert (reason is None) == (expected is S.SUCCEEDED)
