"""Timing helpers: per-call times in seconds, never assertions.

Three ways to time: :func:`micro` for calls of a few microseconds (many calls
per sample, as :mod:`timeit` does), :func:`each` for slow calls timed one
by one, with untimed preparation before each, and :func:`each_round` for
slow calls compared with each other, taken in turn.  All switch the garbage
collector off while timing, as :mod:`timeit` does, so a collection that
belongs to no call in particular does not land on one sample.
"""

from __future__ import annotations

import gc
import statistics
import time
import timeit
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Timing:
    """Seconds per call: every sample, and how many calls each sample averaged."""

    samples: list[float]
    calls_per_sample: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def min(self) -> float:
        return min(self.samples)


def _calls_for(timer: timeit.Timer, budget: float) -> int:
    """The number of calls one sample needs to last about ``budget`` seconds."""
    number = 1
    while True:
        elapsed = timer.timeit(number)
        if elapsed >= budget / 5:
            return max(1, int(number * budget / elapsed))
        number *= 10


def micro(
    stmt: str | Callable[[], object],
    namespace: dict[str, Any] | None = None,
    *,
    repeat: int = 7,
    budget: float = 0.05,
) -> Timing:
    """Per-call time of a fast ``stmt`` (a string run in ``namespace``, or a callable)."""
    timer = timeit.Timer(stmt, globals=namespace)
    number = _calls_for(timer, budget)
    return Timing([t / number for t in timer.repeat(repeat, number)], number)


def micro_pair(
    stmt_a: str,
    stmt_b: str,
    namespace: dict[str, Any],
    *,
    repeat: int = 9,
    budget: float = 0.05,
) -> tuple[Timing, Timing]:
    """Per-call times of two fast statements, sampled alternately so drift hits both alike."""
    timer_a = timeit.Timer(stmt_a, globals=namespace)
    timer_b = timeit.Timer(stmt_b, globals=namespace)
    number_a = _calls_for(timer_a, budget)
    number_b = _calls_for(timer_b, budget)
    a: list[float] = []
    b: list[float] = []
    for _ in range(repeat):
        a.append(timer_a.timeit(number_a) / number_a)
        b.append(timer_b.timeit(number_b) / number_b)
    return Timing(a, number_a), Timing(b, number_b)


def each(
    fn: Callable[[], object],
    *,
    n: int,
    before: Callable[[], object] | None = None,
    warmup: int = 1,
) -> Timing:
    """Time ``n`` single calls of ``fn``; ``before`` runs untimed ahead of each one."""
    samples: list[float] = []
    enabled = gc.isenabled()
    try:
        for i in range(warmup + n):
            if before is not None:
                before()
            gc.collect()
            gc.disable()
            started = time.perf_counter()
            fn()
            elapsed = time.perf_counter() - started
            if enabled:
                gc.enable()
            if i >= warmup:
                samples.append(elapsed)
    finally:
        if enabled:
            gc.enable()
    return Timing(samples)


def each_round(fns: Sequence[Callable[[], object]], *, n: int, warmup: int = 1) -> list[Timing]:
    """Time ``n`` single calls of each of ``fns``, one of each per round, in turn.

    For slow calls compared with each other (whole processes): drift on a
    busy machine lands on every one of them alike, not on whichever ran last.
    Every other round runs them in reverse, so that none always follows the same one.
    """
    samples: list[list[float]] = [[] for _ in fns]
    pairs = list(zip(fns, samples, strict=True))
    enabled = gc.isenabled()
    try:
        for i in range(warmup + n):
            for fn, times in pairs if i % 2 == 0 else reversed(pairs):
                gc.collect()
                gc.disable()
                started = time.perf_counter()
                fn()
                elapsed = time.perf_counter() - started
                if enabled:
                    gc.enable()
                if i >= warmup:
                    times.append(elapsed)
    finally:
        if enabled:
            gc.enable()
    return [Timing(times) for times in samples]
