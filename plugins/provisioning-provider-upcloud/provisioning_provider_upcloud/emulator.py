"""A local UpCloud API 1.3 emulator, for tests and trying the provider without an account.

It speaks the JSON shapes of UpCloud's API documentation (the same ones the
``upcloud-api`` SDK's own tests use) over real HTTP on 127.0.0.1, with
UpCloud's asynchronous behaviour: a new server, and one that is started,
stopped or restarted, is in ``maintenance`` for ``maintenance_seconds`` before
it settles, and acting on a server in the wrong state answers 409
``SERVER_STATE_ILLEGAL``.  Authentication is checked (a token as ``Bearer``,
a username and password as ``Basic``); anything else is a 401 with UpCloud's
error JSON.  Knobs script failures (429 with ``Retry-After``, 5xx, illegal
state) and choose the shape of ``/price``.

In Python::

    with UpCloudEmulator(maintenance_seconds=0.2) as api:
        api.base_url        # http://127.0.0.1:PORT/1.3
        api.throttle(2, retry_after=1)
        ...
        api.writes          # mutating requests received so far

From a shell, ``python -m provisioning_provider_upcloud.emulator --port 8080``
serves until Ctrl-C.  Only the standard library is used.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hmac
import json
import re
import threading
import time
import uuid as uuidlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "DEFAULT_PASSWORD",
    "DEFAULT_TOKEN",
    "DEFAULT_USERNAME",
    "PLANS",
    "TEMPLATES",
    "ZONES",
    "Failure",
    "Recorded",
    "UpCloudEmulator",
    "main",
]

API_PREFIX = "/1.3"
DEFAULT_TOKEN = "ucat_emulator-token"  # noqa: S105 - the emulator's own test credential
DEFAULT_USERNAME = "emulator"
DEFAULT_PASSWORD = "emulator-password"  # noqa: S105 - the emulator's own test credential
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PRICE_SHAPES = ("plans", "components")

ZONES: tuple[tuple[str, str], ...] = (
    ("de-fra1", "Frankfurt #1"),
    ("fi-hel1", "Helsinki #1"),
    ("uk-lon1", "London #1"),
    ("us-nyc1", "New York #1"),
)
PLANS: tuple[dict[str, Any], ...] = (
    {"name": "1xCPU-1GB", "core_number": 1, "memory_amount": 1024, "storage_size": 25},
    {"name": "1xCPU-2GB", "core_number": 1, "memory_amount": 2048, "storage_size": 50},
    {"name": "2xCPU-4GB", "core_number": 2, "memory_amount": 4096, "storage_size": 80},
    {"name": "4xCPU-8GB", "core_number": 4, "memory_amount": 8192, "storage_size": 160},
)
# cents per hour, as UpCloud lists them; every zone's prices are these times its factor
_PLAN_PRICES = {"1xCPU-1GB": 0.744, "1xCPU-2GB": 1.042, "2xCPU-4GB": 2.083, "4xCPU-8GB": 4.167}
_COMPONENTS = {
    "server_core": (1, 0.6),
    "server_memory": (256, 0.15),
    "storage_maxiops": (1, 0.028),
    "storage_standard": (1, 0.014),
    "storage_hdd": (1, 0.007),
    "ip_address": (1, 0.3),
    "firewall": (1, 0.0),
}
_ZONE_FACTOR = {"de-fra1": 1.0, "fi-hel1": 1.0, "uk-lon1": 1.05, "us-nyc1": 1.1}
TEMPLATES: tuple[dict[str, Any], ...] = (
    {
        "uuid": "01000000-0000-4000-8000-000030220200",
        "title": "Ubuntu Server 22.04 LTS (Jammy Jellyfish)",
        "size": 4,
    },
    {
        "uuid": "01000000-0000-4000-8000-000030240200",
        "title": "Ubuntu Server 24.04 LTS (Noble Numbat)",
        "size": 4,
    },
    {
        "uuid": "01000000-0000-4000-8000-000020070100",
        "title": "Debian GNU/Linux 12 (Bookworm)",
        "size": 3,
    },
    {"uuid": "01000000-0000-4000-8000-000150020100", "title": "Rocky Linux 9", "size": 4},
)
_MAX_RULES = 1000
_NUMBER = re.compile(r"^\d+$")


@dataclass(frozen=True)
class Recorded:
    """One request as the emulator saw it; ``auth`` is the scheme only, never the credential."""

    method: str
    path: str
    query: str
    auth: str  # "bearer", "basic", "none" or "other"
    authenticated: bool
    status: int


@dataclass
class Failure:
    """A scripted answer for the next ``times`` requests matching ``method`` and ``path``."""

    status: int
    code: str
    message: str
    retry_after: float | None = None
    times: int = 1
    method: str | None = None
    #: a regular expression searched in the path below /1.3 (``/server/[^/]+/stop``)
    path: str | None = None

    def matches(self, method: str, path: str) -> bool:
        return (
            self.times > 0
            and (self.method is None or self.method == method)
            and (self.path is None or re.search(self.path, path) is not None)
        )


class ApiError(Exception):
    """An answer with UpCloud's error JSON."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


@dataclass
class _Machine:
    uuid: str
    hostname: str
    title: str
    zone: str
    plan: str
    cores: int
    memory: int
    labels: list[dict[str, str]]
    firewall: str
    login_user: dict[str, Any] | None
    storages: list[dict[str, Any]]
    addresses: list[dict[str, str]]
    state: str = "maintenance"
    target: str | None = "started"
    until: float = 0.0
    rules: list[dict[str, str]] = field(default_factory=list)
    created: int = field(default_factory=lambda: int(time.time()))

    def settle(self, now: float) -> None:
        if self.target is not None and now >= self.until:
            self.state, self.target = self.target, None


Route = Callable[[re.Match[str], dict[str, list[str]], Any], tuple[int, Any]]


class UpCloudEmulator:
    """UpCloud's API 1.3 on 127.0.0.1, in a background thread; use as a context manager.

    ``token`` and ``username``/``password`` are the credentials accepted
    (None: that mode is refused).  ``maintenance_seconds`` is how long a
    server stays in ``maintenance`` after a create, start, stop or restart.
    ``price_shape`` is ``"plans"`` (``server_plan_<name>`` entries and the
    components) or ``"components"`` (``server_core``, ``server_memory`` and
    storage only); it may be changed at any time.
    """

    def __init__(
        self,
        *,
        token: str | None = DEFAULT_TOKEN,
        username: str | None = DEFAULT_USERNAME,
        password: str | None = DEFAULT_PASSWORD,
        maintenance_seconds: float = 0.5,
        price_shape: str = "plans",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if price_shape not in PRICE_SHAPES:
            raise ValueError(f"price_shape must be one of {PRICE_SHAPES}, not {price_shape!r}")
        self.token = token
        self.username = username
        self.password = password
        self.maintenance_seconds = maintenance_seconds
        self.price_shape = price_shape
        self._address = (host, port)
        self._lock = threading.RLock()
        self._log: list[Recorded] = []
        self._failures: list[Failure] = []
        self._machines: dict[str, _Machine] = {}
        self._storages: dict[str, dict[str, Any]] = {}
        self._next_address = 0
        self.writes = 0
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._routes: list[tuple[str, re.Pattern[str], Route]] = [
            ("GET", re.compile(r"/account"), self._account),
            ("GET", re.compile(r"/zone"), self._zones),
            ("GET", re.compile(r"/plan"), self._plans),
            ("GET", re.compile(r"/price"), self._prices),
            ("GET", re.compile(r"/storage/template"), self._templates),
            ("GET", re.compile(r"/ip_address"), self._ip_addresses),
            ("GET", re.compile(r"/server"), self._list),
            ("POST", re.compile(r"/server"), self._create),
            ("GET", re.compile(r"/server/(?P<id>[^/]+)"), self._details),
            ("PUT", re.compile(r"/server/(?P<id>[^/]+)"), self._modify),
            ("DELETE", re.compile(r"/server/(?P<id>[^/]+)"), self._delete),
            (
                "POST",
                re.compile(r"/server/(?P<id>[^/]+)/(?P<action>start|stop|restart)"),
                self._act,
            ),
            ("GET", re.compile(r"/server/(?P<id>[^/]+)/firewall_rule"), self._rules),
            ("POST", re.compile(r"/server/(?P<id>[^/]+)/firewall_rule"), self._add_rule),
            ("GET", re.compile(r"/server/(?P<id>[^/]+)/firewall_rule/(?P<pos>\d+)"), self._rule),
            (
                "DELETE",
                re.compile(r"/server/(?P<id>[^/]+)/firewall_rule/(?P<pos>\d+)"),
                self._delete_rule,
            ),
        ]

    # -- life ------------------------------------------------------------------

    def start(self) -> UpCloudEmulator:
        """Listen and serve in a daemon thread; return self."""
        if self._httpd is not None:
            return self
        httpd = _HttpServer(self._address, _Handler)
        httpd.emulator = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and release the port."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> UpCloudEmulator:  # noqa: PYI034 - Self needs Python 3.11
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the emulator is not running: call start() or use `with`")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/1.3``: what ``[providers.upcloud.api] base_url`` takes."""
        return f"http://{self._address[0]}:{self.port}{API_PREFIX}"

    # -- what tests look at ----------------------------------------------------

    @property
    def requests(self) -> list[Recorded]:
        """Every request so far, oldest first (a copy)."""
        with self._lock:
            return list(self._log)

    def count(self, method: str, path: str | None = None) -> int:
        """Requests with ``method`` whose path below /1.3 matches the regex ``path``."""
        return sum(
            1
            for r in self.requests
            if r.method == method and (path is None or re.search(path, r.path[len(API_PREFIX) :]))
        )

    def server(self, server_id: str) -> dict[str, Any] | None:
        """The details record of a server (as ``GET /server/{uuid}`` gives it), or None."""
        with self._lock:
            machine = self._machines.get(server_id)
            return None if machine is None else self._detail(machine)

    def login_user(self, server_id: str) -> dict[str, Any] | None:
        """The ``login_user`` block a server was created with."""
        with self._lock:
            machine = self._machines.get(server_id)
            return None if machine is None else machine.login_user

    @property
    def server_ids(self) -> list[str]:
        with self._lock:
            return list(self._machines)

    @property
    def storage_ids(self) -> list[str]:
        """Storages that exist (a server deleted without ``storages=1`` leaves its own)."""
        with self._lock:
            return list(self._storages)

    # -- knobs -----------------------------------------------------------------

    def fail(
        self,
        status: int,
        *,
        code: str | None = None,
        message: str | None = None,
        retry_after: float | None = None,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Answer the next ``times`` authenticated requests matching ``method`` and ``path``."""
        default_code = {429: "TOO_MANY_REQUESTS", 409: "SERVER_STATE_ILLEGAL"}.get(
            status,
            "SERVICE_UNAVAILABLE" if status >= 500 else "ERROR",  # noqa: PLR2004
        )
        with self._lock:
            self._failures.append(
                Failure(
                    status,
                    code or default_code,
                    message or f"scripted failure {status}",
                    retry_after,
                    times,
                    method,
                    path,
                )
            )

    def throttle(
        self, times: int = 1, *, retry_after: float = 1.0, method: str | None = None
    ) -> None:
        """The next ``times`` requests get 429 with ``Retry-After: retry_after``."""
        self.fail(
            429,
            message="Too many requests, slow down.",
            retry_after=retry_after,
            times=times,
            method=method,
        )

    def illegal_state(
        self, times: int = 1, *, method: str | None = "POST", path: str | None = None
    ) -> None:
        """The next ``times`` matching requests get 409 ``SERVER_STATE_ILLEGAL``."""
        self.fail(
            409,
            message="The server is not in a state that allows this action.",
            times=times,
            method=method,
            path=path,
        )

    def set_state(
        self, server_id: str, state: str, *, seconds: float | None = None, then: str | None = None
    ) -> None:
        """Put a server in ``state`` now; with ``then``, it becomes ``then`` after ``seconds``."""
        with self._lock:
            machine = self._machines[server_id]
            machine.state = state
            machine.target = then
            machine.until = time.monotonic() + (seconds or 0.0)

    # -- dispatch --------------------------------------------------------------

    def dispatch(
        self, method: str, target: str, authorization: str | None, raw: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        """Answer one request: (status, JSON body or None, extra headers)."""
        split = urlsplit(target)
        scheme, authenticated = self._authenticate(authorization)
        with self._lock:
            if method in MUTATING:
                self.writes += 1
            status, body, headers = self._answer(
                method, split.path, split.query, raw, authenticated
            )
            self._log.append(
                Recorded(method, split.path, split.query, scheme, authenticated, status)
            )
            return status, body, headers

    def _answer(
        self, method: str, path: str, query: str, raw: bytes, authenticated: bool
    ) -> tuple[int, Any, dict[str, str]]:
        try:
            sub = self._admitted(path, authenticated)
            scripted = self._scripted(method, sub)
            if scripted is not None:
                return scripted
            now = time.monotonic()
            for machine in self._machines.values():
                machine.settle(now)
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                raise ApiError(
                    400, "JSON_MALFORMED", "The request body is not valid JSON."
                ) from None
            status, answer = self._route(method, sub)(parse_qs(query), body)
        except ApiError as exc:
            return exc.status, _error(exc.code, exc.message), {}
        return status, answer, {}

    @staticmethod
    def _admitted(path: str, authenticated: bool) -> str:
        """The path below /1.3 of a request that may go on; ApiError for one that may not."""
        if not authenticated:
            raise ApiError(
                401,
                "AUTHENTICATION_FAILED",
                "Authentication failed using the given username and password.",
            )
        if not path.startswith(API_PREFIX + "/"):
            raise ApiError(404, "NOT_FOUND", f"This emulator serves API {API_PREFIX} only.")
        return path[len(API_PREFIX) :].rstrip("/")

    def _scripted(self, method: str, sub: str) -> tuple[int, Any, dict[str, str]] | None:
        for failure in self._failures:
            if failure.matches(method, sub):
                failure.times -= 1
                headers = {}
                if failure.retry_after is not None:
                    headers["Retry-After"] = f"{failure.retry_after:g}"
                return failure.status, _error(failure.code, failure.message), headers
        return None

    def _route(
        self, method: str, sub: str
    ) -> Callable[[dict[str, list[str]], Any], tuple[int, Any]]:
        allowed = False
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(sub)
            if match is None:
                continue
            allowed = True
            if route_method == method:
                return lambda query, body: handler(match, query, body)
        if allowed:
            raise ApiError(405, "METHOD_NOT_ALLOWED", f"{method} is not allowed on {sub}.")
        raise ApiError(404, "NOT_FOUND", f"No such resource: {sub}.")

    def _authenticate(self, authorization: str | None) -> tuple[str, bool]:
        if not authorization:
            return "none", False
        scheme, _, credential = authorization.partition(" ")
        if scheme == "Bearer":
            return "bearer", bool(self.token) and _same(credential, self.token or "")
        if scheme == "Basic":
            if not (self.username and self.password):
                return "basic", False
            expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            return "basic", _same(credential, expected)
        return "other", False

    # -- catalogue -------------------------------------------------------------

    def _account(self, *_: Any) -> tuple[int, Any]:
        return 200, {
            "account": {
                "credits": 10000.0,
                "username": self.username or "api-token",
                "resource_limits": {"cores": 100, "memory": 307200, "public_ipv4": 20},
            }
        }

    def _zones(self, *_: Any) -> tuple[int, Any]:
        zones = [
            {"id": name, "description": description, "public": "yes"} for name, description in ZONES
        ]
        return 200, {"zones": {"zone": zones}}

    def _plans(self, *_: Any) -> tuple[int, Any]:
        plans = [
            {**plan, "storage_tier": "maxiops", "public_traffic_out": plan["memory_amount"]}
            for plan in PLANS
        ]
        return 200, {"plans": {"plan": plans}}

    def _prices(self, *_: Any) -> tuple[int, Any]:
        zones = []
        for name, _description in ZONES:
            factor = _ZONE_FACTOR[name]
            entry: dict[str, Any] = {"name": name}
            for key, (amount, price) in _COMPONENTS.items():
                entry[key] = {"amount": amount, "price": round(price * factor, 4)}
            if self.price_shape == "plans":
                for plan, price in _PLAN_PRICES.items():
                    entry[f"server_plan_{plan}"] = {"amount": 1, "price": round(price * factor, 4)}
            zones.append(entry)
        return 200, {"prices": {"zone": zones}}

    def _templates(self, *_: Any) -> tuple[int, Any]:
        storages = [
            {
                **template,
                "access": "public",
                "license": 0,
                "state": "online",
                "template_type": "cloud-init",
                "type": "template",
            }
            for template in TEMPLATES
        ]
        return 200, {"storages": {"storage": storages}}

    def _ip_addresses(self, *_: Any) -> tuple[int, Any]:
        addresses = [
            {**address, "part_of_plan": "yes", "ptr_record": "", "server": machine.uuid}
            for machine in self._machines.values()
            for address in machine.addresses
        ]
        return 200, {"ip_addresses": {"ip_address": addresses}}

    # -- servers ---------------------------------------------------------------

    def _find(self, match: re.Match[str]) -> _Machine:
        server_id = match.group("id")
        machine = self._machines.get(server_id)
        if machine is None:
            raise ApiError(404, "SERVER_NOT_FOUND", f"The server {server_id} does not exist.")
        return machine

    def _summary(self, machine: _Machine) -> dict[str, Any]:
        return {
            "uuid": machine.uuid,
            "hostname": machine.hostname,
            "title": machine.title,
            "zone": machine.zone,
            "plan": machine.plan,
            "core_number": str(machine.cores),
            "memory_amount": str(machine.memory),
            "state": machine.state,
            "license": 0,
            "created": machine.created,
            "labels": {"label": [dict(label) for label in machine.labels]},
            "tags": {"tag": []},
        }

    def _detail(self, machine: _Machine) -> dict[str, Any]:
        interfaces: dict[str, dict[str, Any]] = {}
        for address in machine.addresses:
            interface = interfaces.setdefault(
                address["access"],
                {
                    "index": len(interfaces) + 1,
                    "type": address["access"],
                    "ip_addresses": {"ip_address": []},
                    "source_ip_filtering": "yes",
                    "bootable": "no",
                },
            )
            interface["ip_addresses"]["ip_address"].append(
                {"address": address["address"], "family": address["family"], "floating": "no"}
            )
        return {
            **self._summary(machine),
            "boot_order": "disk",
            "firewall": machine.firewall,
            "metadata": "yes",
            "nic_model": "virtio",
            "timezone": "UTC",
            "video_model": "vga",
            "vnc": "off",
            "simple_backup": "no",
            "ip_addresses": {"ip_address": [dict(a) for a in machine.addresses]},
            "networking": {"interfaces": {"interface": list(interfaces.values())}},
            "storage_devices": {
                "storage_device": [
                    {
                        "address": f"virtio:{n}",
                        "storage": storage["uuid"],
                        "storage_size": storage["size"],
                        "storage_tier": storage["tier"],
                        "storage_title": storage["title"],
                        "storage_encrypted": storage.get("encrypted", "no"),
                        "type": "disk",
                        "boot_disk": "1" if n == 0 else "0",
                    }
                    for n, storage in enumerate(machine.storages)
                ]
            },
        }

    def _list(self, *_: Any) -> tuple[int, Any]:
        servers = [self._summary(m) for m in self._machines.values()]
        return 200, {"servers": {"server": servers}}

    def _details(self, match: re.Match[str], *_: Any) -> tuple[int, Any]:
        return 200, {"server": self._detail(self._find(match))}

    def _create(self, _match: re.Match[str], _query: Any, body: Any) -> tuple[int, Any]:
        spec = body.get("server") if isinstance(body, dict) else None
        if not isinstance(spec, dict):
            raise ApiError(400, "SERVER_INVALID", "The request body must hold a server object.")
        zone = spec.get("zone")
        if zone not in {name for name, _ in ZONES}:
            raise ApiError(400, "ZONE_INVALID", f"The zone {zone!r} is not valid.")
        hostname = spec.get("hostname")
        if not isinstance(hostname, str) or not hostname:
            raise ApiError(400, "HOSTNAME_MISSING", "The hostname attribute is missing.")
        title = spec.get("title")
        if not isinstance(title, str) or not title:
            raise ApiError(400, "TITLE_MISSING", "The title attribute is missing.")
        plan_name = spec.get("plan", "custom")
        plans = {p["name"]: p for p in PLANS}
        if plan_name != "custom" and plan_name not in plans:
            raise ApiError(400, "PLAN_INVALID", f"The plan {plan_name!r} does not exist.")
        plan = plans.get(plan_name, {"core_number": 1, "memory_amount": 1024})
        firewall = spec.get("firewall", "off")
        if firewall not in {"on", "off"}:
            raise ApiError(400, "FIREWALL_INVALID", "The firewall attribute must be on or off.")
        storages = self._new_storages(spec, hostname, zone)
        machine = _Machine(
            uuid=str(uuidlib.uuid4()),
            hostname=hostname,
            title=title,
            zone=zone,
            plan=plan_name,
            cores=int(spec.get("core_number") or plan["core_number"]),
            memory=int(spec.get("memory_amount") or plan["memory_amount"]),
            labels=_labels(spec.get("labels")),
            firewall=firewall,
            login_user=spec.get("login_user"),
            storages=storages,
            addresses=self._new_addresses(spec.get("networking")),
            until=time.monotonic() + self.maintenance_seconds,
        )
        for storage in storages:
            self._storages[storage["uuid"]] = storage
        self._machines[machine.uuid] = machine
        return 202, {"server": self._detail(machine)}

    def _new_storages(self, spec: dict[str, Any], hostname: str, zone: str) -> list[dict[str, Any]]:
        devices = _dig(spec, "storage_devices", "storage_device")
        if not devices:
            raise ApiError(
                400, "STORAGE_DEVICES_MISSING", "The storage_devices attribute is missing."
            )
        templates = {t["uuid"]: t for t in TEMPLATES}
        made: list[dict[str, Any]] = []
        for device in devices:
            size = _integer(device.get("size"), "SIZE_INVALID", "size")
            action = device.get("action")
            if action == "clone":
                template = templates.get(device.get("storage"))
                if template is None:
                    raise ApiError(
                        404,
                        "STORAGE_NOT_FOUND",
                        f"The storage {device.get('storage')} does not exist.",
                    )
                if size < template["size"]:
                    raise ApiError(400, "SIZE_INVALID", "The size is smaller than the template's.")
            elif action != "create":
                raise ApiError(
                    400, "ACTION_INVALID", f"The storage action {action!r} is not valid."
                )
            encrypted = device.get("encrypted", "no")
            if encrypted not in {"yes", "no"}:
                raise ApiError(
                    400, "ENCRYPTED_INVALID", f"The encrypted value {encrypted!r} is not valid."
                )
            made.append(
                {
                    "uuid": str(uuidlib.uuid4()),
                    "size": size,
                    "tier": device.get("tier", "maxiops"),
                    "title": device.get("title") or f"{hostname} disk {len(made)}",
                    "zone": zone,
                    "encrypted": encrypted,
                }
            )
        return made

    def _new_addresses(self, networking: Any) -> list[dict[str, str]]:
        interfaces = _dig(networking, "interfaces", "interface") if networking else None
        if not interfaces:
            interfaces = [
                {"type": "public", "ip_addresses": {"ip_address": [{"family": "IPv4"}]}},
                {"type": "utility", "ip_addresses": {"ip_address": [{"family": "IPv4"}]}},
            ]
        addresses = []
        for interface in interfaces:
            access = interface.get("type")
            if access not in {"public", "utility", "private"}:
                raise ApiError(
                    400, "INTERFACE_TYPE_INVALID", f"The interface type {access!r} is not valid."
                )
            if access == "private" and not interface.get("network"):
                raise ApiError(
                    400, "NETWORK_MISSING", "A private interface needs the network attribute."
                )
            for wanted in _dig(interface, "ip_addresses", "ip_address") or [{"family": "IPv4"}]:
                family = wanted.get("family", "IPv4")
                if family not in {"IPv4", "IPv6"}:
                    raise ApiError(
                        400, "FAMILY_INVALID", f"The address family {family!r} is not valid."
                    )
                self._next_address += 1
                n = self._next_address
                if family == "IPv6":
                    address = f"2001:db8::{n:x}"
                elif access == "public":
                    address = f"198.18.{n // 250}.{n % 250 + 2}"
                else:
                    address = f"10.3.{n // 250}.{n % 250 + 2}"
                addresses.append({"access": access, "address": address, "family": family})
        return addresses

    def _modify(self, match: re.Match[str], _query: Any, body: Any) -> tuple[int, Any]:
        machine = self._find(match)
        spec = body.get("server") if isinstance(body, dict) else None
        if not isinstance(spec, dict):
            raise ApiError(400, "SERVER_INVALID", "The request body must hold a server object.")
        if machine.state == "maintenance":
            raise ApiError(409, "SERVER_STATE_ILLEGAL", "The server is in maintenance.")
        if "firewall" in spec:
            if spec["firewall"] not in {"on", "off"}:
                raise ApiError(400, "FIREWALL_INVALID", "The firewall attribute must be on or off.")
            machine.firewall = spec["firewall"]
        for attribute in ("hostname", "title"):
            if attribute in spec:
                setattr(machine, attribute, str(spec[attribute]))
        if "labels" in spec:
            machine.labels = _labels(spec["labels"])
        if "plan" in spec and spec["plan"] != machine.plan:
            if machine.state != "stopped":
                raise ApiError(
                    409, "SERVER_STATE_ILLEGAL", "The server must be stopped to change its plan."
                )
            machine.plan = str(spec["plan"])
        return 202, {"server": self._detail(machine)}

    def _act(self, match: re.Match[str], *_: Any) -> tuple[int, Any]:
        machine = self._find(match)
        action = match.group("action")
        needed, target = {
            "start": ("stopped", "started"),
            "stop": ("started", "stopped"),
            "restart": ("started", "started"),
        }[action]
        if machine.state != needed:
            raise ApiError(
                409,
                "SERVER_STATE_ILLEGAL",
                f"The server is {machine.state}; it must be {needed} to {action}.",
            )
        machine.state, machine.target = "maintenance", target
        machine.until = time.monotonic() + self.maintenance_seconds
        return 200, {"server": self._detail(machine)}

    def _delete(
        self, match: re.Match[str], query: dict[str, list[str]], _body: Any
    ) -> tuple[int, Any]:
        machine = self._find(match)
        if machine.state != "stopped":
            raise ApiError(
                409, "SERVER_STATE_ILLEGAL", f"The server is {machine.state}; it must be stopped."
            )
        del self._machines[machine.uuid]
        if query.get("storages", ["0"])[0] in {"1", "true"}:
            for storage in machine.storages:
                self._storages.pop(storage["uuid"], None)
        return 204, None

    # -- firewall --------------------------------------------------------------

    def _rules(self, match: re.Match[str], *_: Any) -> tuple[int, Any]:
        machine = self._find(match)
        return 200, {"firewall_rules": {"firewall_rule": [dict(r) for r in machine.rules]}}

    def _rule(self, match: re.Match[str], *_: Any) -> tuple[int, Any]:
        machine = self._find(match)
        return 200, {"firewall_rule": dict(self._rule_at(machine, match))}

    @staticmethod
    def _rule_at(machine: _Machine, match: re.Match[str]) -> dict[str, str]:
        position = int(match.group("pos"))
        if not 1 <= position <= len(machine.rules):
            raise ApiError(
                404, "FIREWALL_RULE_NOT_FOUND", f"The firewall rule {position} does not exist."
            )
        return machine.rules[position - 1]

    def _add_rule(self, match: re.Match[str], _query: Any, body: Any) -> tuple[int, Any]:
        machine = self._find(match)
        spec = body.get("firewall_rule") if isinstance(body, dict) else None
        if not isinstance(spec, dict):
            raise ApiError(
                400, "FIREWALL_RULE_INVALID", "The request body must hold a firewall_rule."
            )
        if len(machine.rules) >= _MAX_RULES:
            raise ApiError(
                409, "FIREWALL_RULE_LIMIT_REACHED", "The server has 1000 firewall rules."
            )
        rule = _checked_rule(spec)
        position = spec.get("position")
        index = len(machine.rules)
        if position not in {None, ""}:
            index = min(_integer(position, "POSITION_INVALID", "position") - 1, index)
        machine.rules.insert(max(index, 0), rule)
        _renumber(machine.rules)
        return 201, {"firewall_rule": dict(rule)}

    def _delete_rule(self, match: re.Match[str], *_: Any) -> tuple[int, Any]:
        machine = self._find(match)
        machine.rules.remove(self._rule_at(machine, match))
        _renumber(machine.rules)
        return 204, None


_RULE_FIELDS = (
    "action",
    "comment",
    "destination_address_end",
    "destination_address_start",
    "destination_port_end",
    "destination_port_start",
    "direction",
    "family",
    "icmp_type",
    "position",
    "protocol",
    "source_address_end",
    "source_address_start",
    "source_port_end",
    "source_port_start",
)


def _checked_rule(spec: dict[str, Any]) -> dict[str, str]:
    rule = {name: "" if spec.get(name) is None else str(spec[name]) for name in _RULE_FIELDS}
    if rule["direction"] not in {"in", "out"}:
        raise ApiError(400, "DIRECTION_INVALID", "The direction must be in or out.")
    if rule["action"] not in {"accept", "reject", "drop"}:
        raise ApiError(400, "ACTION_INVALID", "The action must be accept, reject or drop.")
    if rule["protocol"] not in {"", "tcp", "udp", "icmp"}:
        raise ApiError(400, "PROTOCOL_INVALID", "The protocol must be tcp, udp or icmp.")
    addressed = any(rule[f"{side}_address_start"] for side in ("source", "destination"))
    if (rule["protocol"] or addressed) and rule["family"] not in {"IPv4", "IPv6"}:
        raise ApiError(400, "FAMILY_INVALID", "The family must be IPv4 or IPv6.")
    for side in ("source", "destination"):
        for end in ("start", "end"):
            port = rule[f"{side}_port_{end}"]
            if port and rule["protocol"] not in {"tcp", "udp"}:
                raise ApiError(400, "PORT_INVALID", "Ports are only allowed with tcp or udp.")
            if port and not (_NUMBER.match(port) and 1 <= int(port) <= 65535):  # noqa: PLR2004
                raise ApiError(400, "PORT_INVALID", f"The port {port!r} is not valid.")
    return rule


def _renumber(rules: list[dict[str, str]]) -> None:
    for n, rule in enumerate(rules, start=1):
        rule["position"] = str(n)


def _labels(value: Any) -> list[dict[str, str]]:
    labels = _dig(value, "label") if isinstance(value, dict) else value
    if labels is None:
        return []
    if not isinstance(labels, list) or not all(
        isinstance(label, dict) and isinstance(label.get("key"), str) for label in labels
    ):
        raise ApiError(400, "LABELS_INVALID", "Labels must be a list of key and value objects.")
    return [{"key": label["key"], "value": str(label.get("value", ""))} for label in labels]


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _integer(value: Any, code: str, name: str) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, str))
        or not _NUMBER.match(str(value))
    ):
        raise ApiError(400, code, f"The {name} {value!r} is not a whole number.")
    return int(value)


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"error_code": code, "error_message": message}}


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    emulator: UpCloudEmulator


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer
    server_version = "UpCloudEmulator/1.3"

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        status, body, headers = self.server.emulator.dispatch(
            self.command, self.path, self.headers.get("Authorization"), raw
        )
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if payload:
            self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle  # noqa: N815 - http.server's names

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's signature
        """Quiet: tests read :attr:`UpCloudEmulator.requests` instead."""


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m provisioning_provider_upcloud.emulator``: serve until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m provisioning_provider_upcloud.emulator",
        description="Serve a local UpCloud API 1.3 emulator on 127.0.0.1 until Ctrl-C.",
    )
    parser.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="API token accepted as Bearer")
    parser.add_argument("--username", default=DEFAULT_USERNAME, help="username accepted as Basic")
    parser.add_argument("--password", default=DEFAULT_PASSWORD, help="password accepted as Basic")
    parser.add_argument(
        "--maintenance", type=float, default=2.0, help="seconds a server stays in maintenance"
    )
    parser.add_argument("--price-shape", choices=PRICE_SHAPES, default="plans")
    args = parser.parse_args(argv)
    emulator = UpCloudEmulator(
        token=args.token,
        username=args.username,
        password=args.password,
        maintenance_seconds=args.maintenance,
        price_shape=args.price_shape,
        port=args.port,
    )
    with emulator:
        print(f"UpCloud API emulator at {emulator.base_url} (Ctrl-C to stop)", flush=True)  # noqa: T201
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
