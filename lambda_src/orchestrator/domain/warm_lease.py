"""One pool manager at a time (docs/warm-runners.md, The pool manager): the refill
invocations make concurrent runs likely (20 creates at once invoke it 20 times), and two
runs planning at once would both start what a pool misses, past the budget. A run takes
the PoolManagerLease or, finding it held, asks the holder to run once more and ends; the
holder runs again while it was asked, so the last change is always planned for."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from orchestrator.domain.models import utc_iso
from orchestrator.ports import Clock, PoolManagerLease

T = TypeVar("T")
# Longer than a run (the function's timeout is a minute): a holder that died frees it then.
LEASE_SECONDS = 90
# A holder asked again and again plans at most this many times in one invocation; what is
# asked after is left to the next invocation or the schedule.
MAX_ROUNDS = 5
ACQUIRE_ATTEMPTS = 3


def run_alone(
    lease: PoolManagerLease,
    holder: str,
    clock: Clock,
    work: Callable[[], T],
    *,
    max_rounds: int = MAX_ROUNDS,
) -> list[T]:
    """`work()` as the lease's holder, again for as long as (and as often as, up to
    `max_rounds`) another run asked meanwhile; [] when the holder was asked to run for us."""

    def until() -> str:
        return utc_iso(clock.now() + timedelta(seconds=LEASE_SECONDS))

    for _ in range(ACQUIRE_ATTEMPTS):
        if lease.acquire(holder, utc_iso(clock.now()), until()):
            break
        if lease.ask_again(utc_iso(clock.now())):
            return []
    else:
        return []  # taken and released in turn under us: others are running meanwhile
    done: list[T] = []
    try:
        for _ in range(max_rounds):
            done.append(work())
            if lease.release(holder, until()):
                return done
    except BaseException:
        lease.drop(holder)
        raise
    lease.drop(holder)
    return done
