"""Running fleet work concurrently, with a bound.

Operations hand a function and a list of items to an :class:`Executor` and get
one :class:`Outcome` per item back, in order; a failure of one item never
stops the others.  :class:`ThreadExecutor` is the local implementation; a
distributed backend implements the same two members.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Generic, Protocol, TypeVar

import attrs

from provisioning_core.errors import ProvisioningError

__all__ = ["Executor", "Interrupted", "Outcome", "ThreadExecutor"]

T = TypeVar("T")
R = TypeVar("R")


@attrs.frozen
class Outcome(Generic[T, R]):
    """What running the function on one item gave: a value or an exception.

    ``started`` is False for items never run because the run was interrupted.
    """

    item: T
    value: R | None = None
    error: BaseException | None = None
    started: bool = True

    @property
    def ok(self) -> bool:
        """Whether the item ran and raised nothing."""
        return self.started and self.error is None


class Interrupted(ProvisioningError):
    """Ctrl-C arrived: running items finished and were recorded, the rest never started."""

    exit_code = 130

    def __init__(self, outcomes: Sequence[Outcome[Any, Any]]) -> None:
        super().__init__(
            "interrupted: work in flight finished and was recorded, the rest never started"
        )
        self.outcomes = list(outcomes)


class Executor(Protocol):
    """Runs ``fn`` over items, at most ``parallelism`` at a time.

    ``cancelled`` is set when the user interrupts: long waits inside ``fn``
    check it and stop early, leaving their item in a recorded state.
    """

    parallelism: int
    cancelled: threading.Event

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[Outcome[T, R]]:
        """One outcome per item, in the order of ``items``; raises :class:`Interrupted`."""
        ...


class ThreadExecutor:
    """An :class:`Executor` on a thread pool.

    On Ctrl-C it stops starting items, lets the running ones finish (they
    record what they did), then raises :class:`Interrupted` with every
    outcome; a second Ctrl-C abandons them.
    """

    def __init__(self, parallelism: int = 10) -> None:
        if parallelism < 1:
            raise ValueError(f"parallelism must be at least 1, not {parallelism}")
        self.parallelism = parallelism
        self.cancelled = threading.Event()

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[Outcome[T, R]]:
        """One outcome per item, in order; raises :class:`Interrupted` on Ctrl-C."""
        if not items:
            return []
        self.cancelled.clear()  # each run starts afresh after an earlier interruption
        # even one item runs on the pool: this thread only waits, so Ctrl-C
        # lands here and never in the middle of a hook call or a record
        outcomes: dict[int, Outcome[T, R]] = {}
        pool = ThreadPoolExecutor(max_workers=min(self.parallelism, len(items)))
        futures: dict[Future[R], int] = {}
        try:
            for index, item in enumerate(items):
                futures[pool.submit(self._guarded, fn, item)] = index
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in done:
                    outcomes[futures[future]] = self._outcome(items[futures[future]], future)
        except KeyboardInterrupt:
            self.cancelled.set()
            for future in futures:
                future.cancel()
            # what is running finishes and records itself; a second Ctrl-C
            # (raised out of this wait) abandons it
            wait([f for f in futures if not f.cancelled()])
            for future, index in futures.items():
                outcomes[index] = self._outcome(items[index], future)
            done_outcomes: list[Outcome[Any, Any]] = [outcomes[i] for i in range(len(items))]
            raise Interrupted(done_outcomes) from None
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return [outcomes[i] for i in range(len(items))]

    def _guarded(self, fn: Callable[[T], R], item: T) -> R:
        if self.cancelled.is_set():
            raise _NotStartedError
        return fn(item)

    @staticmethod
    def _outcome(item: T, future: Future[R]) -> Outcome[T, R]:
        if future.cancelled():
            return Outcome(item, started=False)
        error = future.exception()
        if isinstance(error, _NotStartedError):
            return Outcome(item, started=False)
        if error is not None:
            return Outcome(item, error=error)
        return Outcome(item, value=future.result())


class _NotStartedError(Exception):
    """Raised in place of running an item after the run was cancelled."""
