"""The executor bounds concurrency and isolates failures; wait_for polls to a deadline."""

from __future__ import annotations

import threading

import pytest

from provisioning_core.errors import ProvisioningError
from provisioning_core.operations.executor import ThreadExecutor
from provisioning_core.operations.waiting import WaitCancelled, WaitTimeout, wait_for


def test_map_keeps_order_isolates_failures_and_bounds_concurrency():
    running = 0
    peak = 0
    lock = threading.Lock()
    # four at a time must meet here: fewer and the barrier breaks the run
    together = threading.Barrier(4, timeout=30)

    def work(n):
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        together.wait()
        with lock:
            running -= 1
        if n == 3:
            raise ValueError("three")
        return n * 10

    outcomes = ThreadExecutor(parallelism=4).map(work, list(range(12)))
    assert [o.item for o in outcomes] == list(range(12))
    assert [o.value for o in outcomes if o.ok] == [n * 10 for n in range(12) if n != 3]
    assert str(outcomes[3].error) == "three"
    assert peak == 4


def test_parallelism_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        ThreadExecutor(0)


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_wait_for_polls_until_done_and_reports_each_new_state():
    states = iter(["creating", "creating", "starting", "running"])
    seen = []
    result = wait_for(
        lambda: next(states),
        lambda s: s == "running",
        what="web-1",
        interval=0.001,
        timeout=5,
        progress=seen.append,
    )
    assert result == "running"
    assert seen == ["creating", "starting", "running"]


def test_wait_for_times_out_naming_the_last_state():
    clock = Clock()

    def poll():
        clock.now += 4
        return "creating"

    with pytest.raises(
        WaitTimeout, match=r"web-1: not reached within 10 s \(last seen: creating\)"
    ):
        wait_for(poll, lambda s: False, what="web-1", interval=0.001, timeout=10, clock=clock)


def test_wait_for_stops_on_failure_and_on_cancel():
    with pytest.raises(ProvisioningError, match="web-1: went wrong"):
        wait_for(
            lambda: "error",
            lambda s: False,
            what="web-1",
            interval=0.001,
            timeout=5,
            failed=lambda s: "went wrong",
        )
    cancelled = threading.Event()
    cancelled.set()
    with pytest.raises(WaitCancelled, match="stopped waiting"):
        wait_for(
            lambda: "creating",
            lambda s: False,
            what="web-1",
            interval=1,
            timeout=5,
            cancelled=cancelled,
        )
