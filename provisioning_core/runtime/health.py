"""Health checks: is the service answering (http, tcp) or satisfied (command)?

A check is tried ``retries`` times, ``interval`` seconds apart, each attempt
within ``timeout``; the first healthy attempt ends it.  An unhealthy service
is a result, never an exception.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs

from provisioning_core.errors import InputError, ProvisioningError
from provisioning_core.models import HealthCheck

if TYPE_CHECKING:
    from provisioning_core.runtime.host import Host

__all__ = ["HealthResult", "check_health"]

_LAST_LINE = 200  # characters of a failing check command's output quoted


@attrs.frozen
class HealthResult:
    """The outcome: ``message`` says what the last attempt saw."""

    healthy: bool
    message: str
    attempts: int


def check_health(
    host: Host,
    check: HealthCheck,
    *,
    address: str | None = None,
    retries: int | None = None,
    sleep: Callable[[float], object] = time.sleep,
) -> HealthResult:
    """Run ``check`` against ``host`` (http and tcp connect to ``address`` or host.address)."""
    target = address or host.address or "127.0.0.1"
    probe = _probe(host, check, target)
    attempts = max(1, check.retries if retries is None else retries)
    message = ""
    for attempt in range(1, attempts + 1):
        healthy, message = probe()
        if healthy:
            return HealthResult(healthy=True, message=message, attempts=attempt)
        if attempt < attempts:
            sleep(check.interval)
    return HealthResult(healthy=False, message=message, attempts=attempts)


def _probe(host: Host, check: HealthCheck, address: str) -> Callable[[], tuple[bool, str]]:
    if check.type in {"http", "tcp"} and check.port is None:
        raise InputError(
            f"the {check.type} health check has no port",
            hint="give HealthCheck(port=...) the port the service listens on",
        )
    if check.type == "http":
        netloc = f"[{address}]" if ":" in address else address
        path = check.endpoint or "/"
        url = f"http://{netloc}:{check.port}{path if path.startswith('/') else '/' + path}"
        return lambda: _http(url, check.timeout)
    if check.type == "tcp":
        assert check.port is not None
        port = check.port
        return lambda: _tcp(address, port, check.timeout)
    if not check.command:
        raise InputError(
            "the command health check has no command",
            hint="give HealthCheck(command=...) a shell command that exits 0 when healthy",
        )
    command = check.command
    return lambda: _command(host, command, check.timeout)


def _http(url: str, timeout: float) -> tuple[bool, str]:
    import urllib.error
    import urllib.request

    # health checks target the server itself, never a proxy from the environment
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        exc.close()
        return False, f"GET {url}: HTTP {exc.code} {exc.reason}"
    except (urllib.error.URLError, OSError) as exc:
        return False, f"GET {url}: {getattr(exc, 'reason', exc)}"
    ok = 200 <= status < 300  # noqa: PLR2004 - the 2xx range
    return ok, f"GET {url}: HTTP {status}"


def _tcp(address: str, port: int, timeout: float) -> tuple[bool, str]:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True, f"{address}:{port} accepts connections"
    except OSError as exc:
        return False, f"{address}:{port}: {exc.strerror or exc}"


def _command(host: Host, command: str, timeout: float) -> tuple[bool, str]:
    try:
        result = host.run(command, timeout=timeout, check=False)
    except ProvisioningError as exc:  # timed out, connection lost: unhealthy, not a crash
        return False, f"{command!r} on {host.name}: {exc.message}"
    if result.ok:
        return True, f"{command!r} exited 0"
    output = (result.stderr or result.stdout).decode("utf-8", errors="replace").strip()
    last = output.splitlines()[-1][:_LAST_LINE] if output else ""
    return False, f"{command!r} exited {result.exit_status}" + (f": {last}" if last else "")
