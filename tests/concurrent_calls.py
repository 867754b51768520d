"""Calls made at the same moment from threads (a `threading.Barrier` releases them
together), and stores that hold every caller at one step until all have reached it: the
worst interleaving of separate hosts (Lambda containers) sharing one store."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

WAIT_SECONDS = 30.0


def all_at_once(calls: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run every call in its own thread, released together; each one's result, or the
    exception it raised, in the order of `calls`."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait(WAIT_SECONDS)
        try:
            results[index] = calls[index]()
        except Exception as error:  # the caller sorts results from refusals
            results[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_SECONDS * 2)
    assert not any(thread.is_alive() for thread in threads), "a call never returned"
    return results


class HeldAt:
    """`target` (a store) whose first call of `method` waits at `barrier` until every host's
    copy has reached that step (or `patience` seconds have passed: then it goes on alone),
    then `delay` seconds more (hosts released one after the other); everything else passes
    through."""

    def __init__(
        self,
        target: Any,
        method: str,
        barrier: threading.Barrier,
        delay: float = 0.0,
        patience: float = WAIT_SECONDS,
    ) -> None:
        self._target = target
        self._method = method
        self._barrier = barrier
        self._delay = delay
        self._patience = patience
        self._held = False

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if name != self._method or self._held:
            return attribute

        def held(*args: Any, **kwargs: Any) -> Any:
            self._held = True
            with contextlib.suppress(threading.BrokenBarrierError):
                self._barrier.wait(self._patience)
            time.sleep(self._delay)
            return attribute(*args, **kwargs)

        return held
