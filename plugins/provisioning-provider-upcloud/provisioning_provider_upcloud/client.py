"""The one place that talks to ``upcloud-api``: a typed adapter over its CloudManager.

Every call goes through :meth:`UpCloud.call`, which turns what the SDK
raises into the core's errors: ``SERVER_NOT_FOUND`` into
:class:`ServerNotFound`; 429, 5xx and ``SERVER_STATE_ILLEGAL`` into
:class:`TransientError` for the core's retries; anything else into a
:class:`ProvisioningError` that names the operation, the server, UpCloud's
error code and message, and says what to do.  No credential reaches a
message: the SDK's text is scrubbed and exceptions are raised ``from None``.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from provisioning_core import (
    ConfigError,
    ProviderSettings,
    ProvisioningError,
    ServerNotFound,
    TransientError,
)
from upcloud_api import CloudManager, UpCloudAPIError, UpCloudClientError
from upcloud_api.api import API

__all__ = ["DEFAULT_BASE_URL", "PROVIDER", "UpCloud", "log"]

PROVIDER = "upcloud"
DEFAULT_BASE_URL = "https://api.upcloud.com/1.3"
MASK = "********"

log = logging.getLogger("provisioning.providers.upcloud")

T = TypeVar("T")

_TOO_MANY_REQUESTS = 429
_SERVER_ERROR = 500
_UNAUTHORIZED = {401, 403}
_NOT_FOUND = 404

_HINTS = {
    "AUTHENTICATION_FAILED": "check [providers.upcloud.auth]: the token, or the username and "
    "password of an API-enabled UpCloud user",
    "INSUFFICIENT_CREDITS": "add credits to the UpCloud account",
    "TRIAL_PLAN": "trial accounts only allow the smallest plans; pick another --plan",
    "ZONE_INVALID": "prov server zones --provider upcloud lists the zones",
    "PLAN_INVALID": "prov server plans --provider upcloud lists the plans",
    "STORAGE_NOT_FOUND": "the OS template is gone; pick another --os",
}


class _Api(API):  # type: ignore[misc]  # upcloud-api has no types
    """The SDK's HTTP layer with the base URL of the settings, and errors that keep
    their HTTP status and ``Retry-After`` (the SDK drops both)."""

    def __init__(self, authorization: str, timeout: float, base_url: str) -> None:
        super().__init__(token=authorization, timeout=timeout)
        self.api_root = base_url

    # the SDK's private error hook (name-mangled); overriding it keeps the SDK's
    # own request code and error parsing and only adds what the core's retries need
    def _API__error_middleware(self, res: Any, res_json: Any) -> Any:  # noqa: N802
        try:
            return API._API__error_middleware(self, res, res_json)
        except UpCloudAPIError as exc:
            exc.status_code = res.status_code
            exc.headers = dict(res.headers)
            raise


class UpCloud:
    """The UpCloud account of ``settings``, reached through ``upcloud-api``."""

    def __init__(self, settings: ProviderSettings) -> None:
        self.settings = settings
        self.base_url = (settings.api.base_url or DEFAULT_BASE_URL).rstrip("/")
        self.timeout = float(settings.api.timeout)
        self._secrets = _secret_values(settings)
        auth = settings.auth
        token = auth.token.reveal() if auth.token else None
        password = auth.password.reveal() if auth.password else None
        if not token and not (auth.username and password):
            raise ConfigError(
                "no UpCloud credentials: [providers.upcloud.auth] has neither a token nor "
                "a username and password",
                hint='set token = "${UPCLOUD_TOKEN}" (or username and password = '
                '"${UPCLOUD_PASSWORD}") under [providers.upcloud.auth] and export the variable',
            )
        try:
            manager = CloudManager(
                username=auth.username, password=password, token=token, timeout=self.timeout
            )
        except UpCloudClientError:
            raise ConfigError(
                "upcloud-api refused the credentials of [providers.upcloud.auth]",
                hint="give a token, or both a username and a password",
            ) from None
        manager.api = _Api(manager.api.token, self.timeout, self.base_url)
        self.manager: Any = manager

    # -- calling -----------------------------------------------------------------

    def call(
        self,
        operation: str,
        function: Callable[[], T],
        *,
        server_id: str | None = None,
        mutating: bool = False,
    ) -> T:
        """``function()`` with every SDK and transport failure turned into the core's errors.

        ``operation`` ("start server") and ``server_id`` go into messages;
        ``mutating`` says whether repeating the request after a lost answer
        could do the change twice.
        """
        try:
            return function()
        except UpCloudAPIError as exc:
            raise self._api_error(exc, operation, server_id) from None
        except requests.JSONDecodeError as exc:  # a body that is not JSON (a proxy's error page)
            raise self._not_json(exc, operation, server_id, mutating=mutating) from None
        except requests.RequestException as exc:
            raise self._transport_error(exc, operation, server_id, mutating=mutating) from None
        except (KeyError, TypeError, AttributeError) as exc:
            raise ProvisioningError(
                f"UpCloud: {operation}{_on(server_id)}: the answer of {self.base_url} is not "
                f"shaped like UpCloud's API 1.3 ({type(exc).__name__}: {self._scrub(str(exc))})",
                hint="check [providers.upcloud.api] base_url; it must point at UpCloud's API "
                "1.3 (https://api.upcloud.com/1.3)",
            ) from None

    def _api_error(
        self, exc: UpCloudAPIError, operation: str, server_id: str | None
    ) -> ProvisioningError:
        status = getattr(exc, "status_code", None)
        code = str(exc.error_code or (f"HTTP {status}" if status else "ERROR"))
        text = self._scrub(str(exc.error_message or "no message"))
        what = f"UpCloud: {operation}{_on(server_id)} failed: {code}: {text}"
        if code == "SERVER_NOT_FOUND" or (status == _NOT_FOUND and server_id is not None):
            return ServerNotFound(server_id or "?", provider=PROVIDER)
        if status == _TOO_MANY_REQUESTS or (status is not None and status >= _SERVER_ERROR):
            return TransientError(
                what,
                retry_after=_retry_after(getattr(exc, "headers", {})),
                status=status,
                hint="UpCloud is busy or failing; try again later, or raise "
                "providers.upcloud.api.retries",
            )
        if code.endswith("_STATE_ILLEGAL"):
            # UpCloud refused before doing anything, so repeating is always safe:
            # no HTTP status on the error, which the core reads as "safe to retry"
            return TransientError(
                what,
                hint="the server is busy with another change; wait until prov server info "
                "shows it running or stopped, then try again",
            )
        if status in _UNAUTHORIZED:
            return ProvisioningError(
                f"{what} (at {self.base_url})", hint=_HINTS["AUTHENTICATION_FAILED"]
            )
        return ProvisioningError(
            what,
            hint=_HINTS.get(
                code,
                "see UpCloud's API documentation for this error code "
                "(https://developers.upcloud.com/1.3/)",
            ),
        )

    def _transport_error(
        self,
        exc: requests.RequestException,
        operation: str,
        server_id: str | None,
        *,
        mutating: bool,
    ) -> ProvisioningError:
        what = (
            f"UpCloud: {operation}{_on(server_id)}: cannot reach {self.base_url}: "
            f"{type(exc).__name__}: {self._scrub(str(exc))}"
        )
        if mutating and not _never_sent(exc):
            return ProvisioningError(
                what,
                hint="the request may or may not have taken effect; check with prov server "
                "list before trying again",
            )
        return TransientError(
            what,
            hint="check the network and [providers.upcloud.api] base_url and timeout",
        )

    def _not_json(
        self, exc: ValueError, operation: str, server_id: str | None, *, mutating: bool
    ) -> ProvisioningError:
        what = (
            f"UpCloud: {operation}{_on(server_id)}: {self.base_url} answered with a body that "
            f"is not JSON ({self._scrub(str(exc))}): a proxy or gateway error page?"
        )
        if mutating:
            return ProvisioningError(
                what,
                hint="the request may or may not have taken effect; check with prov server "
                "list before trying again",
            )
        return TransientError(what, hint="check [providers.upcloud.api] base_url")

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    # -- the API, as plain data ----------------------------------------------------

    def account(self) -> dict[str, Any]:
        data = self.call("read the account", self.manager.get_account)
        return dict(data["account"])

    def zones(self) -> list[dict[str, Any]]:
        data = self.call("list zones", self.manager.get_zones)
        return list(data["zones"]["zone"])

    def plans(self) -> list[dict[str, Any]]:
        data = self.call("list plans", self.manager.get_server_plans)
        return list(data["plans"]["plan"])

    def prices(self) -> list[dict[str, Any]]:
        data = self.call("list prices", self.manager.get_prices)
        return list(data["prices"]["zone"])

    def templates(self) -> list[dict[str, Any]]:
        def fetch() -> list[dict[str, Any]]:
            return [
                {"uuid": s.uuid, "title": s.title, "size": s.size}
                for s in self.manager.get_storages("template")
            ]

        return self.call("list OS templates", fetch)

    def servers(self) -> list[dict[str, Any]]:
        def fetch() -> list[dict[str, Any]]:
            return [_public(vars(s)) for s in self.manager.get_servers()]

        return self.call("list servers", fetch)

    def addresses(self) -> list[dict[str, Any]]:
        def fetch() -> list[dict[str, Any]]:
            return [_public(vars(ip)) for ip in self.manager.get_ips()]

        return self.call("list IP addresses", fetch)

    def server(self, server_id: str) -> dict[str, Any]:
        def fetch() -> dict[str, Any]:
            server, ips, storages = self.manager.get_server_data(server_id)
            record = dict(server)
            record["ip_addresses"] = [_public(vars(ip)) for ip in ips]
            record["storage_devices"] = [
                {"uuid": s.uuid, "size": s.size, "title": s.title} for s in storages
            ]
            return record

        return self.call("read server", fetch, server_id=server_id)

    def create(self, server: Any) -> dict[str, Any]:
        """POST /server with the SDK's Server object; the created server's details."""

        def send() -> dict[str, Any]:
            created = self.manager.create_server(server)
            record = _public(vars(created))
            record["ip_addresses"] = [
                _public(vars(ip)) for ip in getattr(created, "ip_addresses", [])
            ]
            record.pop("storage_devices", None)
            return record

        return self.call(f"create server {server.hostname}", send, mutating=True)

    def modify(self, server_id: str, **fields: Any) -> None:
        self.call(
            f"modify server ({', '.join(fields)})",
            lambda: self.manager.modify_server(server_id, **fields),
            server_id=server_id,
            mutating=True,
        )

    def start(self, server_id: str) -> None:
        # UpCloud answers a start only once its backend has begun it: allow more time
        self.call(
            "start server",
            lambda: self._sdk_server(server_id).start(timeout=max(self.timeout, 120.0)),
            server_id=server_id,
            mutating=True,
        )

    def stop(self, server_id: str, *, hard: bool = False, timeout: int = 60) -> None:
        self.call(
            "stop server",
            lambda: self._sdk_server(server_id).shutdown(hard=hard, timeout=timeout),
            server_id=server_id,
            mutating=True,
        )

    def restart(self, server_id: str, *, timeout: int = 60) -> None:
        self.call(
            "restart server",
            lambda: self._sdk_server(server_id).restart(timeout=timeout),
            server_id=server_id,
            mutating=True,
        )

    def delete(self, server_id: str) -> None:
        """DELETE /server/{uuid}?storages=1: the server and every storage it has."""
        self.call(
            "delete server",
            lambda: self.manager.delete_server(server_id, delete_storages=True),
            server_id=server_id,
            mutating=True,
        )

    def firewall_rules(self, server_id: str) -> list[dict[str, Any]]:
        def fetch() -> list[dict[str, Any]]:
            return [_public(vars(r)) for r in self.manager.get_firewall_rules(server_id)]

        return self.call("list firewall rules", fetch, server_id=server_id)

    def add_firewall_rule(self, server_id: str, rule: dict[str, Any]) -> None:
        self.call(
            "add a firewall rule",
            lambda: self.manager.create_firewall_rule(server_id, rule),
            server_id=server_id,
            mutating=True,
        )

    def delete_firewall_rule(self, server_id: str, position: int) -> None:
        self.call(
            f"delete firewall rule {position}",
            lambda: self.manager.delete_firewall_rule(server_id, position),
            server_id=server_id,
            mutating=True,
        )

    def _sdk_server(self, server_id: str) -> Any:
        from upcloud_api import Server as SdkServer

        return SdkServer(uuid=server_id, cloud_manager=self.manager)


def _on(server_id: str | None) -> str:
    return f" of server {server_id}" if server_id else ""


def _public(attributes: dict[str, Any]) -> dict[str, Any]:
    """An SDK object's API fields, without its back-reference to the manager."""
    return {k: v for k, v in attributes.items() if k not in {"cloud_manager", "populated"}}


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the request cannot have reached UpCloud (the connection was never made)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if not isinstance(exc, requests.ConnectionError):
        return False
    from urllib3.exceptions import NewConnectionError

    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)


def _retry_after(headers: dict[str, str]) -> float | None:
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: the core's backoff decides instead


def _secret_values(settings: ProviderSettings) -> list[str]:
    """Every form a credential of ``settings`` can take on the wire, longest first."""
    auth = settings.auth
    values = {s.reveal() for s in (auth.token, auth.password, auth.api_key, auth.api_secret) if s}
    if auth.username and auth.password:
        pair = f"{auth.username}:{auth.password.reveal()}".encode()
        values.add(base64.b64encode(pair).decode())
    return sorted((v for v in values if v), key=len, reverse=True)
