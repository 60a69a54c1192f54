"""The interceptors the engine wraps around hook calls, on real in-memory extensions."""

from __future__ import annotations

import random
import threading
import time

import pytest

from provisioning_core import ExtensionManager, TransientError, hookimpl
from provisioning_core.errors import PluginTimeout, transient_from
from provisioning_core.operations.calls import (
    CheckModeViolation,
    RateLimiter,
    RetryPolicy,
    check_guard,
    retrying,
    with_timeout,
)
from tests.test_extensions import RequiredHooks as RequiredProvider


class Flaky(RequiredProvider):
    def __init__(self, failures, retry_after=None):
        self.failures = failures
        self.retry_after = retry_after
        self.calls = 0

    @hookimpl
    def get_plans(self, settings):
        self.calls += 1
        if self.calls <= self.failures:
            raise TransientError("busy", retry_after=self.retry_after)
        return []


class HttpFailure(Exception):
    def __init__(self, status, headers=None):
        super().__init__(f"status {status}")
        self.status_code = status
        self.headers = headers or {}


class Http(RequiredProvider):
    def __init__(self, status, headers=None):
        self.status = status
        self.headers = headers

    @hookimpl
    def get_zones(self, settings):
        raise HttpFailure(self.status, self.headers)


class HttpCreate(RequiredProvider):
    def __init__(self, status):
        self.status = status
        self.calls = 0

    @hookimpl
    def create_server(self, config):
        self.calls += 1
        raise HttpFailure(self.status)


class Sleepy(RequiredProvider):
    @hookimpl
    def get_pricing(self, settings):
        time.sleep(3)
        return []


class NoCheck(RequiredProvider):
    @hookimpl
    def create_server(self, settings, config):
        raise AssertionError("must never be called in check mode")


def _ext(plugin, *interceptors):
    manager = ExtensionManager.make_test_instance(
        {("provider", "p"): plugin}, interceptors=interceptors
    )
    return manager.load_extension("provider", "p")


def test_retries_until_success_with_backoff_and_retry_after_floor():
    pauses = []
    plugin = Flaky(failures=2, retry_after=0.25)
    ext = _ext(
        plugin,
        retrying(
            RetryPolicy(attempts=5, base_delay=0.01, max_delay=0.02),
            sleep=pauses.append,
            rng=random.Random(1),
        ),
    )
    assert ext.call("get_plans", settings=None) == []
    assert plugin.calls == 3
    assert pauses == [0.25, 0.25]  # Retry-After is a floor above the tiny backoff


def test_backoff_is_exponential_with_full_jitter_and_capped():
    policy = RetryPolicy(attempts=10, base_delay=1.0, max_delay=8.0)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (6, 8.0)]:
        delays = [policy.delay(attempt, None, rng) for _ in range(200)]
        assert min(delays) >= 0
        assert max(delays) <= ceiling
        assert max(delays) > ceiling * 0.8  # jitter spans the range


def test_gives_up_after_the_attempts_and_says_so():
    plugin = Flaky(failures=10)
    ext = _ext(plugin, retrying(RetryPolicy(attempts=3, base_delay=0), sleep=lambda _: None))
    with pytest.raises(TransientError, match=r"gave up after 3 attempts") as info:
        ext.call("get_plans", settings=None)
    assert plugin.calls == 3
    assert "operations.retry_attempts" in str(info.value)


@pytest.mark.parametrize(
    ("status", "transient"), [(429, True), (500, True), (503, True), (404, False), (400, False)]
)
def test_http_status_of_a_plugin_exception_decides_retrying(status, transient):
    pauses = []
    ext = _ext(
        Http(status, {"Retry-After": "3"}),
        retrying(RetryPolicy(attempts=2, base_delay=0), sleep=pauses.append),
    )
    with pytest.raises(TransientError if transient else Exception) as info:
        ext.call("get_zones", settings=None)
    if transient:
        assert pauses == [3.0]
        assert f"provider 'p': get_zones: HTTP {status}" in str(info.value)
    else:
        assert not isinstance(info.value, TransientError)
        assert pauses == []


def test_transient_from_reads_response_objects_and_http_dates():
    class Response:
        status_code = 503
        headers = {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}

    class ClientError(Exception):
        response = Response()

    found = transient_from(ClientError("unavailable"))
    assert found is not None
    assert found.retry_after == 0.0  # a date in the past: retry now
    assert transient_from(ValueError("nothing HTTP")) is None


def test_a_hung_call_is_abandoned_with_a_clear_error():
    ext = _ext(Sleepy(), with_timeout(0.2))
    with pytest.raises(
        PluginTimeout, match=r"provider 'p'.*get_pricing did not return within 0.2 s"
    ) as info:
        ext.call("get_pricing", settings=None)
    assert "operations.hook_timeout" in str(info.value)


def test_check_guard_refuses_a_mutating_hook_without_check():
    on = threading.Event()
    on.set()
    ext = _ext(NoCheck(), check_guard(on.is_set))
    with pytest.raises(CheckModeViolation, match="does not take 'check'"):
        ext.call("create_server", settings=None, config=None)
    assert ext.call("list_servers", settings=None) == []  # reading is fine


def test_rate_limiter_spaces_calls():
    now = [0.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(rate=4, burst=2, clock=lambda: now[0], sleep=sleep)
    stamps = []
    for _ in range(6):
        limiter.acquire()
        stamps.append(now[0])
    # a burst of 2 at once, then one call every 1/4 s
    assert stamps == [0.0, 0.0, 0.25, 0.5, 0.75, 1.0]
    with pytest.raises(ValueError, match="rate must be positive"):
        RateLimiter(0)


@pytest.mark.parametrize(("status", "calls"), [(503, 1), (429, 3)])
def test_a_mutating_hook_is_not_repeated_after_a_5xx(status, calls):
    # a 5xx may come after the server was made: repeating could make a second one
    plugin = HttpCreate(status)
    ext = _ext(plugin, retrying(RetryPolicy(attempts=3, base_delay=0), sleep=lambda _: None))
    with pytest.raises(TransientError) as info:
        ext.call("create_server", settings=None, config=None, check=False)
    assert plugin.calls == calls
    if status == 503:
        assert "may or may not have taken effect" in str(info.value)


def test_transient_from_a_real_http_client_against_a_local_server():
    import http.server
    import urllib.error
    import urllib.request

    class Busy(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(429)
            self.send_header("Retry-After", "7")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Busy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"http://127.0.0.1:{server.server_address[1]}/", timeout=10)
        info.value.close()
        found = transient_from(info.value)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert found is not None
    assert found.status == 429
    assert found.retry_after == 7.0


def test_a_policy_may_depend_on_the_call_and_names_its_setting():
    plugin = Flaky(failures=10)
    policies = []

    def policy_for(call):
        policies.append(call.hook)
        return RetryPolicy(attempts=2, base_delay=0, setting="providers.up.api.retries")

    ext = _ext(plugin, retrying(policy_for, sleep=lambda _: None))
    with pytest.raises(TransientError, match=r"gave up after 2 attempts") as info:
        ext.call("get_plans", settings=None)
    assert policies == ["get_plans"]
    assert "providers.up.api.retries" in str(info.value.hint)
