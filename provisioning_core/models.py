"""The records the plugin interfaces exchange (**contract**).

Every class is an attrs class.  A plugin may return an instance or a plain
dict with the same keys; the core structures dicts with
:func:`provisioning_core.structure` and rejects malformed ones, naming the
plugin and each problem as "message @ $.path".
"""

from __future__ import annotations

import enum
import re
import warnings
from datetime import datetime
from typing import Any

import attrs
from attrs import Factory, field, frozen

from provisioning_core.errors import ConfigError
from provisioning_core.quantities import parse_cpu, parse_size
from provisioning_core.secret import Secret

__all__ = [
    "ClusterConfig",
    "ClusterFeatures",
    "ClusterInfo",
    "ClusterNetwork",
    "ClusterResources",
    "ClusterStatus",
    "Component",
    "ComponentKind",
    "ComponentResources",
    "ComponentStatus",
    "ConnectionResult",
    "DiscoveredExtension",
    "ExtensionManifest",
    "ExtensionMetadata",
    "ExtensionType",
    "FirewallRule",
    "HealthCheck",
    "OperationResult",
    "Plan",
    "Price",
    "ProviderApi",
    "ProviderAuth",
    "ProviderDefaults",
    "ProviderFeatures",
    "ProviderInfo",
    "ProviderSettings",
    "Server",
    "ServerConfig",
    "ServerNetwork",
    "ServerStatus",
    "ServerStorage",
    "ServiceSpec",
    "SshAccess",
    "TaskservInfo",
    "TaskservInstall",
    "TaskservSource",
    "TaskservStatus",
    "TaskservVersion",
    "UpdateInfo",
    "ValidationReport",
    "Zone",
]


class _StrEnum(str, enum.Enum):
    """A str enum that hashes, prints and formats as its value.

    Enum's default ``__hash__`` hashes the member *name*, so ``"provider"`` and
    ``ExtensionType.PROVIDER`` would compare equal yet miss each other as dict
    keys; hashing the value keeps them interchangeable.
    """

    # a member *is* its value as a str, so str's own methods give the value,
    # without the Enum attribute machinery (this sits on discovery's hot path)
    __hash__ = str.__hash__
    __str__ = str.__str__

    def __format__(self, spec: str) -> str:
        return str.__format__(self, spec)


class ExtensionType(_StrEnum):
    """The three kinds of extension."""

    PROVIDER = "provider"
    TASKSERV = "taskserv"
    CLUSTER = "cluster"

    @classmethod
    def of(cls, kind: ExtensionType | str) -> ExtensionType:
        """``kind`` as an ExtensionType; a :class:`ConfigError` (exit 2) if it is none."""
        try:
            return cls(kind)
        except ValueError:
            allowed = ", ".join(k.value for k in cls)
            raise ConfigError(
                f"unknown extension kind {kind!r}", hint=f"use one of: {allowed}"
            ) from None

    @property
    def group(self) -> str:
        """The entry-point group plugins of this kind register under."""
        return f"provisioning.{self.value}s"


class ServerStatus(_StrEnum):
    """Where a server is in its life."""

    CREATING = "creating"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    STARTING = "starting"
    REBOOTING = "rebooting"
    DELETING = "deleting"
    ERROR = "error"


_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


def _check_hostname(_: Any, __: attrs.Attribute[str], value: str) -> None:
    if not _HOSTNAME.match(value):
        raise ValueError(
            f"invalid hostname {value!r}: use letters, digits and '-', "
            "labels of 1-63 characters separated by '.'"
        )


def _one_of(*allowed: str) -> Any:
    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None and value not in allowed:
            raise ValueError(
                f"invalid {attribute.name} {value!r}: expected one of {', '.join(allowed)}"
            )

    return check


_MAX_PORT = 65535


def _port(_: Any, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and not 1 <= value <= _MAX_PORT:
        raise ValueError(f"invalid {attribute.name} {value}: expected 1-65535")


def _each_port(_: Any, attribute: attrs.Attribute[Any], value: list[int]) -> None:
    for port in value:
        if not 1 <= port <= _MAX_PORT:
            raise ValueError(f"invalid port {port} in {attribute.name}: expected 1-65535")


def _positive_or_none(_: Any, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and not value > 0:
        raise ValueError(f"invalid {attribute.name} {value}: expected a number above 0")


def _non_negative_or_none(_: Any, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and value < 0:
        raise ValueError(f"invalid {attribute.name} {value}: expected 0 or more")


# --- providers --------------------------------------------------------------


# the seed's spellings of a rule (FirewallRule in the Extension Development API), and ours
RULE_DIRECTIONS = {"ingress": "in", "egress": "out"}
RULE_ACTIONS = {"allow": "accept", "deny": "drop"}


def _direction(value: str) -> str:
    return RULE_DIRECTIONS.get(value, value) if isinstance(value, str) else value


def _action(value: str) -> str:
    return RULE_ACTIONS.get(value, value) if isinstance(value, str) else value


def _port_end(rule: FirewallRule, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is None:
        return
    if rule.port is None:
        raise ValueError(f"invalid {attribute.name} {value}: a range needs its first port, port")
    if not rule.port <= value <= _MAX_PORT:
        raise ValueError(
            f"invalid {attribute.name} {value}: expected {rule.port}-65535 (at least port)"
        )


_PORTS = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


def parse_ports(text: str) -> tuple[int, int | None] | None:
    """``"22"``, ``"8000-8100"`` or ``"*"``/``""`` as (port, port_end) or None (every port).

    The one reading of a port text, for the seed's records and for ``--rule``.
    Raises ValueError naming the text; the range itself is checked by the model.
    """
    if text.strip() in {"", "*"}:
        return None
    match = _PORTS.match(text)
    if match is None:
        raise ValueError(f"port {text!r} is not a number 1-65535, a range N-M or *")
    return int(match.group(1)), int(match.group(2)) if match.group(2) is not None else None


@frozen
class FirewallRule:
    """One firewall rule; ``port`` None means every port of the protocol.

    ``port_end`` makes ``port``..``port_end`` a range (None: ``port`` alone).
    The seed's spellings are taken too: direction ``ingress``/``egress``,
    action ``allow``/``deny``, and, when structured from a mapping, ``port``
    as a string (``"22"``, ``"8000-8100"``); they read back as ours.
    """

    direction: str = field(converter=_direction, validator=_one_of("in", "out"))
    protocol: str = field(validator=_one_of("tcp", "udp", "icmp", "any"))
    action: str = field(converter=_action, validator=_one_of("accept", "drop", "reject"))
    port: int | None = field(default=None, validator=_port)
    source: str | None = None
    destination: str | None = None
    port_end: int | None = field(default=None, validator=_port_end, kw_only=True)

    @property
    def ports(self) -> tuple[int, int] | None:
        """(first, last) port of the rule, or None for every port."""
        if self.port is None:
            return None
        return self.port, self.port_end if self.port_end is not None else self.port


class _ReadAsMapping:
    """Read a record as the dict it was before (``config.storage.get("size")``); deprecated.

    ServerConfig's ``storage`` and ``network`` were plain dicts until the seed's
    records were typed; a plugin written then keeps working, warned.
    """

    __slots__ = ()

    def _warn(self) -> None:
        warnings.warn(
            f"{type(self).__name__} is a record, no longer a dict: read its attributes "
            "(storage.size); reading it as a mapping will be removed",
            DeprecationWarning,
            stacklevel=3,
        )

    def keys(self) -> list[str]:
        """The field names (deprecated)."""
        self._warn()
        return [a.name for a in attrs.fields(type(self))]  # type: ignore[arg-type]

    def get(self, key: str, default: Any = None) -> Any:
        """The field ``key`` or ``default`` (deprecated)."""
        self._warn()
        return getattr(self, key, default) if not key.startswith("_") else default

    def __getitem__(self, key: str) -> Any:
        self._warn()
        if key.startswith("_") or not hasattr(self, key):
            raise KeyError(key)
        return getattr(self, key)


@frozen
class ServerStorage(_ReadAsMapping):
    """The seed's ServerConfig ``storage``: the server's main disk.

    ``size`` in GB (None: the plan's own), ``type`` the provider's storage
    class ("maxiops", "gp3"...; None: the provider's default; the old
    spelling ``tier`` is an alias), ``encrypted`` whether it is encrypted at
    rest (None: the provider's ``features.storage_encryption``, which is
    true by default, as the seed's ``encrypted = true``).
    """

    size: int | None = field(default=None, validator=_positive_or_none)
    type: str | None = None
    encrypted: bool | None = None


@frozen
class ServerNetwork(_ReadAsMapping):
    """The seed's ServerConfig ``network``.

    ``public_ip``: give the server a public address (the seed's default,
    true); ``private_network``: the provider's private network (id or name)
    to attach it to; ``bandwidth``: a cap in Mbit/s where the provider has one.
    """

    public_ip: bool = True
    private_network: str | None = None
    bandwidth: int | None = field(default=None, validator=_positive_or_none)


@frozen
class ServerConfig:
    """What to create: passed to ``create_server``.

    ``storage`` and ``network`` are None when neither the command nor the
    provider's ``defaults`` set them: the provider's own defaults apply.
    """

    hostname: str = field(validator=_check_hostname)
    plan: str
    zone: str
    os: str = "ubuntu-22.04"
    ssh_keys: list[str] = Factory(list)
    tags: dict[str, str] = Factory(dict)
    firewall_rules: list[FirewallRule] = Factory(list)
    storage: ServerStorage | None = None
    network: ServerNetwork | None = None


@frozen
class Server:
    """A server as its provider sees it."""

    id: str
    hostname: str
    status: ServerStatus = field(converter=ServerStatus)
    plan: str | None = None
    zone: str | None = None
    ip_addresses: list[str] = Factory(list)
    tags: dict[str, str] = Factory(dict)


@frozen
class Plan:
    """A server size a provider offers."""

    name: str
    cores: int | None = None
    memory_mb: int | None = None
    storage_gb: int | None = None


@frozen
class Zone:
    """A place a provider can put servers."""

    name: str
    description: str = ""


@frozen
class Price:
    """What a plan costs per hour (``hourly`` is keyword-only and required)."""

    plan: str
    zone: str | None = None
    hourly: float = field(kw_only=True)
    currency: str = "EUR"


@frozen
class SshAccess:
    """How to reach a server over SSH."""

    host: str
    port: int = field(default=22, validator=_port)
    user: str = "root"
    key_path: str | None = None
    #: the server's OpenSSH public key line ("ssh-ed25519 AAAA..."); when given it must match
    host_key: str | None = None


@frozen
class ProviderAuth:
    """Credentials; every secret field is a :class:`Secret`.

    ``method`` is the seed's ``auth.method``: which of the credentials the
    provider should use ("api_key", "basic", "certificate", "oauth", or one of
    the provider's own such as aws's "profile"); each provider's
    ``validate_config`` says which it supports and what each one needs.
    """

    method: str | None = None
    token: Secret | None = None
    username: str | None = None
    password: Secret | None = None
    api_key: Secret | None = None
    api_secret: Secret | None = None
    #: the seed's certificate authentication: a client certificate and its key (paths)
    certificate_path: str | None = None
    private_key_path: str | None = None


#: what each of the seed's ``auth.method`` values needs; a provider's own
#: methods (aws's "profile") are its validate_config's to check
AUTH_METHODS: dict[str, tuple[str, ...]] = {
    "api_key": ("api_key",),
    "basic": ("username", "password"),
    "certificate": ("certificate_path", "private_key_path"),
    "oauth": ("token",),
}


@frozen
class ProviderApi:
    """Where and how to talk to the provider's API."""

    base_url: str | None = None
    version: str | None = "v1"
    timeout: float = 30.0
    #: retries of this provider's hooks after a transient failure, the first
    #: attempt not counted (the seed's default, 3; None: ``operations.retry_attempts``
    #: decides)
    retries: int | None = field(default=3, validator=_non_negative_or_none)
    verify_tls: bool = True
    #: most hook calls per second the core makes to this provider (None: no limit)
    rate_limit: float | None = field(default=None, validator=_positive_or_none)


@frozen
class ProviderDefaults:
    """Values used when a command does not give them."""

    zone: str | None = None
    plan: str | None = None
    os: str | None = None
    ssh_user: str | None = None
    ssh_keys: list[str] = Factory(list)
    #: rules every new server gets, before those the command gives
    firewall_rules: list[FirewallRule] = Factory(list)
    storage: ServerStorage | None = None
    network: ServerNetwork | None = None


@frozen
class ProviderFeatures:
    """Provider features the user allows the tool to use.

    Passed to the plugin in ``settings`` and shown by ``prov provider info``.
    The seed's ``backup`` is ``backups``; ``storage_encryption``,
    ``backups`` and ``monitoring`` have the seed's defaults.
    """

    firewall: bool = True
    private_network: bool = False
    load_balancer: bool = False
    backups: bool = True
    ipv6: bool = False
    storage_encryption: bool = True
    monitoring: bool = False


@frozen
class ProviderSettings:
    """A provider's configuration (``[providers.<name>]``), passed as ``settings``.

    ``options`` holds provider-specific keys the common sections do not cover.
    """

    name: str
    auth: ProviderAuth = Factory(ProviderAuth)
    api: ProviderApi = Factory(ProviderApi)
    defaults: ProviderDefaults = Factory(ProviderDefaults)
    features: ProviderFeatures = Factory(ProviderFeatures)
    options: dict[str, Any] = Factory(dict)


def _hook_names(values: list[str]) -> list[str]:
    # the seed names operations "create-server"; hooks are "create_server"
    return [v.replace("-", "_") if isinstance(v, str) else v for v in values]


@frozen
class ProviderInfo:
    """What ``provider_info`` returns; every field but ``name`` and ``version`` optional.

    The seed's fields: ``type`` ("provider"), ``interface`` (how the provider is
    reached, e.g. "API"), ``supported_operations`` (hook names; the seed's
    "create-server" reads as "create_server"; validation checks they are the
    hooks implemented), ``required_auth`` (the ``auth`` fields a call needs,
    checked before any call), ``supported_os`` (``--os`` values it can create;
    others are refused before anything is made) and ``regions`` (its zones).
    ``default_zone`` and ``default_plan`` are used when neither the command nor
    the configuration gives one.
    """

    name: str
    version: str
    description: str = ""
    homepage: str | None = None
    regions: list[str] = Factory(list)
    type: str = field(default="provider", validator=_one_of("provider"))
    interface: str | None = None
    supported_operations: list[str] = field(factory=list, converter=_hook_names)
    required_auth: list[str] = Factory(list)
    supported_os: list[str] = Factory(list)
    default_zone: str | None = None
    default_plan: str | None = None


@frozen
class ValidationReport:
    """Result of a validation: ``valid`` is False when ``errors`` is not empty.

    ``checks`` maps each check performed to "passed", "failed" or "skipped".
    """

    valid: bool
    errors: list[str] = Factory(list)
    warnings: list[str] = Factory(list)
    checks: dict[str, str] = Factory(dict)


@frozen
class ConnectionResult:
    """What ``test_connection`` returns.

    The seed's record ``{success, account_info | error, message}`` reads as
    ``ok`` (``success``), ``account_info`` and ``error``.
    """

    ok: bool
    message: str = ""
    latency_ms: float | None = None
    details: dict[str, str] = Factory(dict)
    account_info: dict[str, Any] | None = None
    error: str | None = None


# --- taskservs --------------------------------------------------------------


@frozen
class TaskservSource:
    """Where a taskserv's artifacts come from (``type``: github, url, bundled).

    ``release_pattern`` is the seed's tag of a release, ``"v{version}"``.
    """

    type: str = field(validator=_one_of("github", "url", "bundled"))
    url: str | None = None
    repository: str | None = None
    release_pattern: str | None = None


@frozen
class TaskservInstall:
    """How a taskserv is installed on a server.

    The seed's ``binary_path``, ``config_path`` and ``data_path`` are
    ``path``, ``config_dir`` and ``data_dir``; ``binary_name`` is the
    executable's name (None: the taskserv's).
    """

    method: str = field(validator=_one_of("binary", "archive", "package", "script", "bundled"))
    path: str = "/usr/local/bin"
    config_dir: str | None = None
    data_dir: str | None = None
    user: str | None = None
    binary_name: str | None = None


@frozen
class ServiceSpec:
    """The service a taskserv runs.

    ``name`` None means the taskserv's own name (the seed's version.k gives
    none); ``type`` is the service manager ("systemd", the seed's, or
    "supervisor"; None: whatever the server has).
    """

    name: str | None = None
    ports: list[int] = Factory(list)
    user: str | None = None
    restart: str = field(default="on-failure", validator=_one_of("always", "on-failure", "no"))
    type: str | None = field(default=None, validator=_one_of("systemd", "supervisor"))
    group: str | None = None


@frozen
class HealthCheck:
    """How to tell a taskserv is healthy (``type``: http, tcp, command).

    Without ``type`` (the seed's version.k has none) it is read from what is
    given: an ``endpoint`` is http, a ``command`` is command, a ``port`` tcp.
    """

    type: str = field(validator=_one_of("http", "tcp", "command"))
    endpoint: str | None = None
    port: int | None = field(default=None, validator=_port)
    command: str | None = None
    interval: float = 5.0
    timeout: float = 3.0
    retries: int = 3


@frozen
class TaskservInfo:
    """What ``taskserv_info`` returns; ``dependencies`` are requirement strings.

    The seed's fields: ``type`` ("taskserv"), ``category`` ("application",
    "container-runtime"...), ``ports`` it listens on, ``config_files`` it
    writes and ``data_directories`` it keeps (``uninstall --keep-data`` keeps
    them).  The seed's version.k record (``dependencies`` as ``{name,
    version}`` tables) reads as this record too.
    """

    name: str
    version: str
    description: str = ""
    source: TaskservSource | None = None
    install: TaskservInstall | None = None
    dependencies: list[str] = Factory(list)
    service: ServiceSpec | None = None
    health_check: HealthCheck | None = None
    type: str = field(default="taskserv", validator=_one_of("taskserv"))
    category: str | None = None
    ports: list[int] = field(factory=list, validator=_each_port)
    config_files: list[str] = Factory(list)
    data_directories: list[str] = Factory(list)


@frozen
class TaskservVersion:
    """One version a taskserv can install."""

    version: str
    url: str | None = None
    sha256: str | None = None
    released_at: datetime | None = None
    prerelease: bool = False


@frozen
class TaskservStatus:
    """What ``status`` returns for a taskserv on one server."""

    name: str
    installed: bool
    running: bool = False
    healthy: bool | None = None
    version: str | None = None
    uptime_seconds: float | None = None
    memory_mb: float | None = None
    message: str = ""
    #: the seed's fields: what ``systemctl is-active`` said, the health
    #: record as the plugin gave it, and CPU use in percent
    systemd_status: str | None = None
    health: dict[str, Any] | None = None
    cpu_percent: float | None = None


@frozen
class UpdateInfo:
    """What ``check_updates`` returns."""

    current: str | None
    latest: str | None
    update_available: bool
    message: str = ""


@frozen
class OperationResult:
    """What a mutating taskserv or cluster hook returns.

    ``changed`` says whether anything changed (in check mode: would change);
    ``actions`` lists each step done or, in check mode, planned.
    """

    changed: bool
    message: str = ""
    actions: list[str] = Factory(list)
    #: what the seed's result records add (``service``, ``version``, ``status``,
    #: ``health``, ``requirements_met``, ``components``, ``endpoints``...), kept as given
    details: dict[str, Any] = Factory(dict)
    #: False when the hook returned None (the seed's ``-> null``): done, and
    #: ``changed`` is assumed, not reported
    reported: bool = field(default=True, kw_only=True)


# --- clusters ---------------------------------------------------------------


class ComponentKind(_StrEnum):
    """What a component is (the seed's ``type``).

    Every kind is deployed the same way by the core's engine: by the taskserv
    extension of the component's name (or ``settings.taskserv``).
    """

    TASKSERV = "taskserv"
    APPLICATION = "application"
    INFRASTRUCTURE = "infrastructure"


def _cpu(_: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None:
        _quantity(attribute, value, parse_cpu)


def _size(_: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None:
        _quantity(attribute, value, parse_size)


def _quantity(attribute: attrs.Attribute[Any], value: str, parse: Any) -> None:
    try:
        parse(value)
    except ValueError as exc:
        reason = str(exc).split(": ", 1)[-1]
        raise ValueError(f"invalid {attribute.name} {value!r}: {reason}") from None


def _at_least_one(_: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    if value < 1:
        raise ValueError(f"invalid {attribute.name} {value}: expected 1 or more")


@frozen
class ClusterResources:
    """What each server of a cluster needs (the seed's ``resources`` and
    ``required_resources``): at least ``min_nodes`` servers, each with
    ``cpu_per_node`` cores ("2", "500m"), ``memory_per_node`` and
    ``storage_per_node`` ("4Gi", "20G").  The defaults are the seed's.
    """

    min_nodes: int = field(default=1, validator=_at_least_one)
    cpu_per_node: str = field(default="2", validator=_cpu)
    memory_per_node: str = field(default="4Gi", validator=_size)
    storage_per_node: str = field(default="20Gi", validator=_size)


@frozen
class ClusterNetwork:
    """The cluster's networks (the seed's ``network``), passed to its plugin."""

    cluster_cidr: str = "10.244.0.0/16"
    service_cidr: str = "10.96.0.0/12"
    dns_domain: str = "cluster.local"


@frozen
class ClusterFeatures:
    """The seed's feature flags of a cluster, passed to its plugin."""

    monitoring: bool = True
    logging: bool = True
    ingress: bool = False
    storage: bool = True


@frozen
class ComponentResources:
    """What one instance of a component needs (the seed's component ``resources``).

    ``replicas`` is the component's own ``replicas``: given here or there (or
    both, equal), it is the same number.
    """

    cpu: str | None = field(default=None, validator=_cpu)
    memory: str | None = field(default=None, validator=_size)
    storage: str | None = field(default=None, validator=_size)
    replicas: int | None = None


def _same_replicas(component: Component, _: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and value.replicas is not None and value.replicas != component.replicas:
        raise ValueError(
            f"resources.replicas ({value.replicas}) and replicas ({component.replicas}) "
            "are one number; give one of them"
        )


@frozen
class Component:
    """One part of a cluster; ``depends_on`` names other components.

    ``kind`` is the seed's ``type``, ``depends_on`` its ``dependencies`` and
    ``settings`` its ``config``; a component with ``enabled = false`` is
    skipped (reported, never deployed).
    """

    name: str
    kind: ComponentKind = field(default=ComponentKind.TASKSERV, converter=ComponentKind)
    version: str | None = None
    depends_on: list[str] = Factory(list)
    replicas: int = field(default=1, validator=_non_negative_or_none)
    settings: dict[str, Any] = Factory(dict)
    enabled: bool = True
    resources: ComponentResources | None = field(default=None, validator=_same_replicas)


@frozen
class ClusterConfig:
    """What to deploy: passed to every cluster hook as ``config``.

    ``resources`` (the seed's; absent: the plugin's ``required_resources``)
    is checked against the cluster's servers and their plans before anything
    is deployed; ``network`` and ``features`` are the seed's, for the plugin.
    """

    name: str
    provider: str | None = None
    servers: list[str] = Factory(list)
    version: str | None = None
    components: list[Component] = Factory(list)
    settings: dict[str, Any] = Factory(dict)
    description: str = ""
    resources: ClusterResources | None = None
    network: ClusterNetwork = Factory(ClusterNetwork)
    features: ClusterFeatures = Factory(ClusterFeatures)


@frozen
class ClusterInfo:
    """What ``cluster_info`` returns.

    ``versions`` maps each cluster version to the component versions it is
    made of (``{"1.1": {"containerd": "1.7.13", "buildkit": "0.13.0"}}``);
    ``prov cluster upgrade NAME --version 1.1`` moves the components to them.
    The seed's fields: ``type`` ("cluster"), ``category`` (e.g. "build") and
    ``required_resources``, what each server needs when the cluster's
    configuration says nothing of ``resources``.
    """

    name: str
    version: str
    description: str = ""
    components: list[Component] = Factory(list)
    versions: dict[str, dict[str, str]] = Factory(dict)
    type: str = field(default="cluster", validator=_one_of("cluster"))
    category: str | None = None
    required_resources: ClusterResources | None = None


@frozen
class ComponentStatus:
    """The state of one component of a deployed cluster."""

    name: str
    status: str
    healthy: bool | None = None
    version: str | None = None
    message: str = ""


@frozen
class ClusterStatus:
    """What a cluster's ``status`` returns.

    ``endpoints`` maps a component to the addresses it serves on
    (``{"registry": ["10.0.0.5:5000"]}``).
    """

    name: str
    status: str
    components: list[ComponentStatus] = Factory(list)
    endpoints: dict[str, list[str]] = Factory(dict)


# --- extensions -------------------------------------------------------------


@frozen
class ExtensionMetadata:
    """What is known about an extension without importing it.

    ``dependencies`` are requirement strings naming other extensions
    (``containerd>=1.6``); ``author`` and ``repository`` come from the
    distribution's metadata or the directory's manifest.
    """

    name: str
    version: str
    extension_type: ExtensionType = field(converter=ExtensionType)
    description: str = ""
    dependencies: list[str] = Factory(list)
    author: str | None = None
    repository: str | None = None


@frozen
class ExtensionManifest:
    """The seed's ``metadata.toml`` sections beyond name, type and version.

    Read from a directory extension's ``metadata.toml`` (or the same sections
    of its ``extension.toml``) without importing it.  ``compatibility`` maps
    each tool to its version specifier (``provisioning_version`` is enforced
    as the core's requirement); ``capabilities`` are the seed's feature flags
    (``server_management``, ``load_balancer``...); ``auth_methods`` and
    ``required_auth`` are ``[authentication] methods`` and
    ``required_fields``; ``default_region`` and ``regions`` are ``[regions]
    default`` and ``available``; ``support`` holds ``[support]`` links.
    """

    license: str | None = None
    compatibility: dict[str, str] = Factory(dict)
    capabilities: dict[str, bool] = Factory(dict)
    auth_methods: list[str] = Factory(list)
    required_auth: list[str] = Factory(list)
    default_region: str | None = None
    regions: list[str] = Factory(list)
    support: dict[str, str] = Factory(dict)


@frozen
class DiscoveredExtension:
    """An extension found by discovery, described from metadata alone.

    ``source`` is "entry-point" (an installed distribution) or "directory"
    (registered with :func:`register_extension`).  ``target`` is what to
    import, ``module:attribute`` or ``module``; for a directory, ``root`` is
    the directory the module is found in.  ``requires_core`` is the specifier
    the extension puts on provisioning-core (None: it declares none).
    ``status`` is "ok", "incompatible", "disabled", "shadowed" or "invalid";
    ``reason`` says why when it is not "ok".  ``warnings`` are problems that do
    not stop loading (unless strict mode is on).
    """

    kind: ExtensionType = field(converter=ExtensionType)
    name: str
    version: str
    source: str
    target: str
    distribution: str | None = None
    root: str | None = None
    description: str = ""
    author: str | None = None
    repository: str | None = None
    requires_core: str | None = None
    dependencies: list[str] = Factory(list)
    status: str = "ok"
    reason: str = ""
    warnings: list[str] = Factory(list)
    #: the seed's metadata.toml sections, for a directory extension that has them
    manifest: ExtensionManifest | None = None

    @property
    def metadata(self) -> ExtensionMetadata:
        """The :class:`ExtensionMetadata` of this extension."""
        return ExtensionMetadata(
            name=self.name,
            version=self.version,
            extension_type=self.kind,
            description=self.description,
            dependencies=list(self.dependencies),
            author=self.author,
            repository=self.repository,
        )

    @property
    def origin(self) -> str:
        """Where it comes from, for messages: a distribution or a directory."""
        if self.distribution:
            return f"{self.distribution} {self.version}"
        if self.root:
            return f"{self.root} ({self.version})"
        return f"{self.source} ({self.version})"
