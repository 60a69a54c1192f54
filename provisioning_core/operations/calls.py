"""What the engine wraps around every hook call: timeouts, retries, rate limits, check mode.

Each is an :data:`~provisioning_core.Interceptor`; the engine installs them on
its :class:`~provisioning_core.ExtensionManager`, outermost first: the check
guard, the rate limit, retries, then the timeout of a single attempt.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import attrs

from provisioning_core.errors import PluginTimeout, ProvisioningError, TransientError
from provisioning_core.extensions import HookCall, Interceptor
from provisioning_core.hookspecs import HOOKS
from provisioning_core.models import ExtensionType

__all__ = [
    "CheckModeViolation",
    "RateLimiter",
    "RetryPolicy",
    "check_guard",
    "logged",
    "rate_limited",
    "retrying",
    "with_timeout",
]

log = logging.getLogger("provisioning.calls")

_TOO_MANY_REQUESTS = 429  # refused before any work was done: always safe to repeat


class CheckModeViolation(ProvisioningError):
    """A mutating hook that cannot take ``check`` was about to be called in check mode.

    This is a bug in the engine, never the user's doing: the guard is the
    last line that keeps ``--check`` from changing anything.
    """


def check_guard(enabled: Callable[[], bool]) -> Interceptor:
    """In check mode, refuse mutating hooks without ``check``; force ``check=True`` on the rest."""

    def intercept(call: HookCall, proceed: Callable[[], Any]) -> Any:
        if not enabled():
            return proceed()
        ext = call.extension
        if not HOOKS[ext.kind][call.hook].mutating:
            return proceed()
        if not ext.accepts(call.hook, "check"):
            raise CheckModeViolation(
                f"check mode: refused to call {ext.kind} {ext.name!r}.{call.hook}, "
                "which changes things and does not take 'check'",
                hint="this is a bug in provisioning; please report it",
            )
        call.kwargs["check"] = True
        return proceed()

    return intercept


@attrs.frozen
class RetryPolicy:
    """Exponential backoff with full jitter; ``Retry-After`` is a floor.

    Attempt ``n`` (from 1) waits ``uniform(0, min(max_delay, base_delay * 2**(n-1)))``,
    or at least what the remote side asked for.
    """

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    #: the setting a user raises for more attempts, named when retrying gives up
    setting: str = "operations.retry_attempts"

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number ``attempt``."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        backoff = rng.uniform(0, ceiling)
        return max(backoff, retry_after) if retry_after is not None else backoff


def retrying(
    policy: RetryPolicy | Callable[[HookCall], RetryPolicy],
    *,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    on_retry: Callable[[HookCall, int, float, TransientError], None] | None = None,
) -> Interceptor:
    """Retry a call that raises :class:`TransientError`, up to ``policy.attempts`` in all.

    ``policy`` may be a function of the call, so each provider can have its own.
    """
    generator = rng or random.Random()  # noqa: S311 - jitter, not cryptography
    policy_for = policy if callable(policy) else (lambda _call: policy)

    def intercept(call: HookCall, proceed: Callable[[], Any]) -> Any:
        policy = policy_for(call)
        attempt = 1
        while True:
            try:
                return proceed()
            except TransientError as exc:
                mutating = HOOKS[call.extension.kind][call.hook].mutating
                if mutating and exc.status is not None and exc.status != _TOO_MANY_REQUESTS:
                    # a 5xx may come after the change was made: repeating it
                    # could create a second server
                    exc.hint = exc.hint or (
                        "the request may or may not have taken effect; check (prov server "
                        "list) before trying again"
                    )
                    raise
                if attempt >= policy.attempts:
                    exc.message = f"{exc.message} (gave up after {attempt} attempts)"
                    exc.hint = exc.hint or (
                        "the remote side is busy or failing; try again later, or raise "
                        + policy.setting
                    )
                    raise
                pause = policy.delay(attempt, exc.retry_after, generator)
                if on_retry is not None:
                    on_retry(call, attempt, pause, exc)
                log.info(
                    "%s %s.%s: transient failure, retry %d in %.2fs",
                    call.extension.kind,
                    call.extension.name,
                    call.hook,
                    attempt,
                    pause,
                )
                sleep(pause)
                attempt += 1

    return intercept


class RateLimiter:
    """At most ``rate`` calls per second on average, bursts up to ``burst`` (token bucket)."""

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, not {rate}")
        self.rate = rate
        self.burst = max(1, burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(self.burst)
        self._stamp = clock()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Wait until a call is allowed."""
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                needed = (1 - self._tokens) / self.rate
            self._sleep(needed)


def rate_limited(limiter_for: Callable[[str], RateLimiter | None]) -> Interceptor:
    """Hold each provider hook call until that provider's limiter allows it.

    ``limiter_for(name)`` gives the limiter of provider ``name`` or None for
    no limit; it is separate from parallelism, which bounds calls in flight.
    """

    def intercept(call: HookCall, proceed: Callable[[], Any]) -> Any:
        if call.extension.kind is ExtensionType.PROVIDER:
            limiter = limiter_for(call.extension.name)
            if limiter is not None:
                limiter.acquire()
        return proceed()

    return intercept


def with_timeout(seconds: float) -> Interceptor:
    """Abandon a call that runs longer than ``seconds`` and raise :class:`PluginTimeout`.

    Python cannot kill a thread: the hung call is left in a daemon thread,
    which dies with the process, and the command goes on without it.
    """

    def intercept(call: HookCall, proceed: Callable[[], Any]) -> Any:
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["value"] = proceed()
            except BaseException as exc:  # handed over to the caller's thread
                box["error"] = exc

        worker = threading.Thread(
            target=run, name=f"hook-{call.extension.name}-{call.hook}", daemon=True
        )
        worker.start()
        worker.join(seconds)
        if worker.is_alive():
            raise call.extension.error(
                f"{call.hook} did not return within {seconds:g} s and was abandoned",
                call.hook,
                "the plugin may be hung or its remote side slow; raise "
                "operations.hook_timeout if it needs longer, or report it to the plugin's author",
                PluginTimeout,
            )
        if "error" in box:
            raise box["error"]
        return box.get("value")

    return intercept


def logged() -> Interceptor:
    """Log each hook call's name, duration and outcome at debug level (never its arguments)."""

    def intercept(call: HookCall, proceed: Callable[[], Any]) -> Any:
        if not log.isEnabledFor(logging.DEBUG):
            return proceed()
        start = time.perf_counter()
        outcome = "ok"
        try:
            return proceed()
        except BaseException as exc:
            outcome = type(exc).__name__
            raise
        finally:
            log.debug(
                "%s %s.%s: %s in %.1f ms",
                call.extension.kind,
                call.extension.name,
                call.hook,
                outcome,
                (time.perf_counter() - start) * 1000,
            )

    return intercept
