"""Health checks against real listeners: http, tcp, command; retries and messages."""

from __future__ import annotations

import socket

import pytest

from provisioning_core.errors import InputError
from provisioning_core.models import HealthCheck
from provisioning_core.runtime import check_health
from provisioning_core.runtime.health import HealthResult

from .conftest import free_port


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def test_http_healthy_on_2xx(local_host, http_server, monkeypatch):
    # a proxy in the environment must not be used for the server itself
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    http_server.serve("/healthz", b"ok")
    check = HealthCheck(type="http", port=http_server.port, endpoint="/healthz")
    assert check_health(local_host, check) == HealthResult(
        healthy=True,
        message=f"GET http://127.0.0.1:{http_server.port}/healthz: HTTP 200",
        attempts=1,
    )


def test_http_unhealthy_retries_then_reports(local_host, http_server):
    http_server.serve("/healthz", b"down", status=503)
    sleeps = Sleeps()
    check = HealthCheck(
        type="http", port=http_server.port, endpoint="healthz", interval=2.5, retries=3
    )
    result = check_health(local_host, check, sleep=sleeps)
    assert result == HealthResult(
        healthy=False,
        message=f"GET http://127.0.0.1:{http_server.port}/healthz: HTTP 503 Service Unavailable",
        attempts=3,
    )
    assert sleeps == [2.5, 2.5]
    assert len(http_server.requests) == 3


def test_http_becomes_healthy_on_a_later_attempt(local_host, http_server):
    sleeps = Sleeps()

    def sleep(seconds: float) -> None:
        sleeps(seconds)
        http_server.serve("/", b"up")

    check = HealthCheck(type="http", port=http_server.port, retries=5, interval=1)
    result = check_health(local_host, check, sleep=sleep)
    assert (result.healthy, result.attempts, sleeps) == (True, 2, [1])


def test_tcp(local_host):
    with socket.socket() as listener:
        listener.bind(("127.0.0.2", 0))
        listener.listen()
        port = listener.getsockname()[1]
        check = HealthCheck(type="tcp", port=port)
        assert check_health(local_host, check, address="127.0.0.2").healthy
    closed = free_port()
    result = check_health(local_host, HealthCheck(type="tcp", port=closed), retries=1)
    assert result == HealthResult(
        healthy=False, message=f"127.0.0.1:{closed}: Connection refused", attempts=1
    )


def test_command_runs_on_the_host(host, sandbox):
    (sandbox / "ready").write_text("")
    assert check_health(host, HealthCheck(type="command", command="test -f ready")).healthy
    result = check_health(
        host,
        HealthCheck(type="command", command="echo not yet >&2; exit 1"),
        retries=2,
        sleep=Sleeps(),
    )
    assert result == HealthResult(
        healthy=False, message="'echo not yet >&2; exit 1' exited 1: not yet", attempts=2
    )


def test_command_timeout_is_unhealthy_not_an_error(local_host):
    check = HealthCheck(type="command", command="sleep 20", timeout=0.3, retries=1)
    result = check_health(local_host, check)
    assert not result.healthy
    assert "did not finish within 0.3 s" in result.message


def test_a_check_without_port_or_command_is_an_input_error(local_host):
    with pytest.raises(InputError, match="the http health check has no port"):
        check_health(local_host, HealthCheck(type="http"))
    with pytest.raises(InputError, match="the command health check has no command"):
        check_health(local_host, HealthCheck(type="command"))
