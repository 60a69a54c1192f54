"""The controller's HTTP GET (urllib): downloads and release listings.

Errors name the URL and are sorted the way the framework retries: 429 and
5xx (and timeouts) are :class:`TransientError`, anything else is a
:class:`ProvisioningError`.  Loopback addresses never go through a proxy
from the environment.
"""

from __future__ import annotations

import ipaddress
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping

import attrs

from provisioning_core.errors import ProvisioningError, TransientError, transient_from

__all__ = ["Response", "get", "opener"]

_FORBIDDEN = 403


@attrs.frozen
class Response:
    """A successful response."""

    status: int
    headers: Mapping[str, str]
    body: bytes


def _loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def opener(url: str) -> urllib.request.OpenerDirector:
    """An opener for ``url``: the environment's proxies, except for loopback addresses."""
    if _loopback(urllib.parse.urlsplit(url).hostname):
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener()


def get(
    url: str, *, timeout: float, what: str, headers: Mapping[str, str] | None = None
) -> Response:
    """GET ``url``; ``what`` ("download", "GitHub releases") names it in errors."""
    if urllib.parse.urlsplit(url).scheme not in {"http", "https"}:
        raise ProvisioningError(
            f"{what}: {url!r} is not an http(s) URL", hint="use an http:// or https:// URL"
        )
    request = urllib.request.Request(url, headers=dict(headers or {}))  # noqa: S310 - checked above
    try:
        with opener(url).open(request, timeout=timeout) as response:
            return Response(response.status, dict(response.headers.items()), response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            raise _http_error(exc, url, what) from None
    except TimeoutError:
        raise TransientError(
            f"{what}: no answer from {url} within {timeout} s",
            hint="the server is slow or unreachable; it is worth trying again",
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ProvisioningError(
            f"{what}: cannot reach {url}: {reason}",
            hint="check the URL and this machine's network (and proxy) settings",
        ) from None


def _http_error(exc: urllib.error.HTTPError, url: str, what: str) -> ProvisioningError:
    transient = transient_from(exc)
    if (
        transient is None
        and exc.code == _FORBIDDEN
        and exc.headers.get("X-RateLimit-Remaining") == "0"
    ):
        # GitHub's rate limit answers 403 with the time the window resets
        import time

        reset = exc.headers.get("X-RateLimit-Reset", "")
        wait = max(0.0, float(reset) - time.time()) if reset.isdigit() else None
        transient = TransientError("rate limited", retry_after=wait, status=exc.code)
    if transient is not None:
        after = (
            f"; it asked to retry after {transient.retry_after:g} s"
            if transient.retry_after is not None
            else ""
        )
        return TransientError(
            f"{what}: HTTP {exc.code} {exc.reason} from {url}{after}",
            retry_after=transient.retry_after,
            status=transient.status,
            hint="the server is busy or rate-limiting; it is worth trying again later",
        )
    hint = "check the URL"
    if exc.code in {401, 403, 404}:
        hint = "check the URL; a private resource needs a token with access to it"
    return ProvisioningError(f"{what}: HTTP {exc.code} {exc.reason} from {url}", hint=hint)
