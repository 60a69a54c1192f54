"""Waiting for a target state: poll with an interval until a deadline."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from provisioning_core.errors import ProvisioningError

__all__ = ["WaitCancelled", "WaitTimeout", "wait_for"]

T = TypeVar("T")


class WaitTimeout(ProvisioningError):
    """The target state was not reached before the deadline; ``last`` is what was seen."""

    def __init__(self, what: str, seconds: float, last: str) -> None:
        self.last = last
        super().__init__(
            f"{what}: not reached within {seconds:g} s (last seen: {last})",
            hint="it may still get there: check again later, or raise operations.wait_timeout",
        )


class WaitCancelled(ProvisioningError):
    """The wait was interrupted (Ctrl-C); ``last`` is what was seen."""

    exit_code = 130

    def __init__(self, what: str, last: str) -> None:
        self.last = last
        super().__init__(f"{what}: stopped waiting (last seen: {last})")


def wait_for(
    poll: Callable[[], T],
    done: Callable[[T], bool],
    *,
    what: str,
    interval: float,
    timeout: float,
    describe: Callable[[T], str] = str,
    failed: Callable[[T], str | None] = lambda _: None,
    progress: Callable[[str], None] | None = None,
    cancelled: threading.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Call ``poll`` every ``interval`` seconds until ``done(result)``; return that result.

    ``failed(result)`` returning a message stops early with that message (a
    server that went to ``error`` will not become ``running``).  Raises
    :class:`WaitTimeout` after ``timeout`` seconds and :class:`WaitCancelled`
    when ``cancelled`` is set; ``progress`` hears each new state.
    """
    deadline = clock() + timeout
    seen: str | None = None
    while True:
        result = poll()
        state = describe(result)
        if progress is not None and state != seen:
            progress(state)
        seen = state
        if done(result):
            return result
        problem = failed(result)
        if problem is not None:
            raise ProvisioningError(
                f"{what}: {problem}",
                hint="inspect its state (prov ... info or status), then retry or remove it",
            )
        remaining = deadline - clock()
        if remaining <= 0:
            raise WaitTimeout(what, timeout, state)
        pause = min(interval, remaining)
        if cancelled is not None:
            if cancelled.wait(pause):
                raise WaitCancelled(what, state)
        else:
            time.sleep(pause)
