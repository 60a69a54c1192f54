"""The hooks of the ``upcloud`` provider.

Settings (``[providers.upcloud]``): ``auth.token``, or ``auth.username`` and
``auth.password``; ``api.base_url`` (default https://api.upcloud.com/1.3),
``api.timeout`` (per request, passed to upcloud-api), ``api.retries`` (the
core's retries of transient failures); ``defaults.ssh_user`` (the login user,
default root).  ``options``: ``storage_tier`` (maxiops, standard or hdd),
``storage_size`` (GB, default the plan's), ``maintenance_timeout`` (seconds a
hook waits for a server to leave ``maintenance``, default ``api.timeout``),
``poll_interval`` (seconds between two looks, default 2), ``stop_timeout``
(seconds UpCloud gives a soft stop before it stops hard, default 60).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from provisioning_core import (
    ConfigError,
    ConnectionResult,
    FirewallRule,
    Plan,
    Price,
    ProviderInfo,
    ProviderSettings,
    ProvisioningError,
    Server,
    ServerConfig,
    ServerStatus,
    SshAccess,
    TransientError,
    ValidationReport,
    Zone,
    hookimpl,
)

from provisioning_provider_upcloud import __version__, records
from provisioning_provider_upcloud.client import DEFAULT_BASE_URL, PROVIDER, UpCloud, log

OPTIONS = {"storage_tier", "storage_size", "maintenance_timeout", "poll_interval", "stop_timeout"}
TIERS = ("maxiops", "standard", "hdd")
DEFAULT_POLL_INTERVAL = 2.0
DEFAULT_STOP_TIMEOUT = 60
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


# -- helpers -------------------------------------------------------------------


def _option(settings: ProviderSettings, name: str, default: float) -> float:
    value = settings.options.get(name)
    return (
        float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default
    )


def _login_user(settings: ProviderSettings) -> str:
    return settings.defaults.ssh_user or "root"


def _wait(
    client: UpCloud,
    server_id: str,
    operation: str,
    done: Any,
) -> dict[str, Any]:
    """Poll the server until ``done(record)``; TransientError when the budget runs out.

    The budget is ``options.maintenance_timeout`` (default ``api.timeout``):
    the core's retries then try again, so a long maintenance is waited out
    without one hook call hanging.
    """
    settings = client.settings
    budget = _option(settings, "maintenance_timeout", client.timeout)
    interval = _option(settings, "poll_interval", DEFAULT_POLL_INTERVAL)
    deadline = time.monotonic() + budget
    while True:
        record = client.server(server_id)
        if done(record):
            return record
        if record.get("state") == "error":
            raise ProvisioningError(
                f"UpCloud: cannot {operation} server {record.get('hostname')} ({server_id}): "
                "it is in state error",
                hint="look at the server in UpCloud's control panel; delete it if it cannot be "
                "recovered",
            )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TransientError(
                f"UpCloud: cannot {operation} server {record.get('hostname')} ({server_id}) yet: "
                f"it is still {record.get('state')} after {budget:g} s",
                hint="UpCloud is still working on it; the core retries, and "
                "providers.upcloud.options.maintenance_timeout sets how long each try waits",
            )
        log.info("upcloud: %s %s: server is %s, waiting", operation, server_id, record.get("state"))
        time.sleep(min(interval, remaining))


def _settled(client: UpCloud, server_id: str, operation: str) -> dict[str, Any]:
    """The server's details once out of ``maintenance`` (UpCloud refuses changes until then)."""
    return _wait(client, server_id, operation, lambda r: r.get("state") != "maintenance")


def _sdk_server(
    settings: ProviderSettings,
    config: ServerConfig,
    plan: Mapping[str, Any],
    template: Mapping[str, Any],
    *,
    firewall: bool,
) -> Any:
    """The upcloud-api Server object to POST: the SDK builds the request body from it."""
    from upcloud_api import Label, ServerNetworkInterface, Storage, login_user_block
    from upcloud_api import Server as SdkServer

    storage, network = config.storage, config.network
    size = (storage.size if storage else None) or settings.options.get("storage_size")
    size = int(size or plan.get("storage_size") or template.get("size") or 10)
    tier = (storage.type if storage else None) or settings.options.get("storage_tier")
    tier = tier or "maxiops"
    if tier not in TIERS:
        raise ConfigError(
            f"upcloud has no storage tier {tier!r}",
            problems=[f"expected one of {', '.join(TIERS)} @ storage.type"],
            hint="pass --storage-type maxiops, standard or hdd",
        )
    if network is not None and network.bandwidth is not None:
        raise ConfigError(
            "upcloud servers have no bandwidth cap to set",
            problems=["upcloud does not take network.bandwidth @ network.bandwidth"],
            hint="leave out --bandwidth (and [providers.upcloud.defaults] network.bandwidth)",
        )
    public = network is None or network.public_ip
    interfaces = [{"type": "utility", "family": "IPv4"}]
    if public:
        interfaces.insert(0, {"type": "public", "family": "IPv4"})
        if settings.features.ipv6:
            interfaces.append({"type": "public", "family": "IPv6"})
    if network is not None and network.private_network:
        interfaces.append({"type": "private", "family": "IPv4", "network": network.private_network})
    if not config.ssh_keys:
        log.warning(
            "upcloud: %s gets no SSH key: only UpCloud's console will reach it", config.hostname
        )
    return SdkServer(
        hostname=config.hostname,
        title=config.hostname,
        zone=config.zone,
        plan=config.plan,
        metadata=True,  # cloud-init templates need the metadata service
        firewall="on" if firewall else "off",
        labels=[Label(key, value) for key, value in config.tags.items()],
        login_user=login_user_block(_login_user(settings), list(config.ssh_keys), False),  # noqa: FBT003
        storage_devices=[
            Storage(
                os=template["uuid"],
                size=size,
                tier=tier,
                title=f"{config.hostname} OS disk",
                # encrypted at rest, as the seed's storage.encrypted (default true) asks;
                # upcloud-api reads the API's "yes"/"no", not a bool
                encrypted="yes" if _encrypted(settings, config) else "no",
            )
        ],
        networking=[_interface(i, ServerNetworkInterface) for i in interfaces],
    )


def _encrypted(settings: ProviderSettings, config: ServerConfig) -> bool:
    if config.storage is not None and config.storage.encrypted is not None:
        return config.storage.encrypted
    return settings.features.storage_encryption


def _interface(spec: Mapping[str, str], cls: Any) -> Any:
    body: dict[str, Any] = {"type": spec["type"], "ip_addresses": [{"family": spec["family"]}]}
    if "network" in spec:
        body["network"] = spec["network"]
    return cls(body)


def _plan(client: UpCloud, name: str) -> dict[str, Any]:
    plans = client.plans()
    for plan in plans:
        if plan.get("name") == name:
            return plan
    allowed = ", ".join(str(p.get("name")) for p in plans)
    raise ConfigError(
        f"UpCloud has no plan {name!r}",
        problems=[f"unknown plan {name!r}; allowed: {allowed} @ --plan"],
        hint="prov server plans --provider upcloud lists the plans",
    )


# -- hooks ---------------------------------------------------------------------


@hookimpl
def provider_info() -> ProviderInfo:
    return ProviderInfo(
        name=PROVIDER,
        version=__version__,
        description="servers on UpCloud, through UpCloud's official SDK (upcloud-api)",
        homepage="https://upcloud.com",
        regions=["de-fra1", "fi-hel1", "fi-hel2", "nl-ams1", "uk-lon1", "us-nyc1", "sg-sin1"],
    )


@hookimpl
def validate_config(settings: ProviderSettings) -> ValidationReport:
    where = f"$.providers.{PROVIDER}"
    errors: list[str] = []
    warnings: list[str] = []
    checks: dict[str, str] = {}
    auth = settings.auth
    if auth.token and (auth.username or auth.password):
        warnings.append(f"both a token and a username/password: the token is used @ {where}.auth")
    elif not auth.token:
        if auth.username and not auth.password:
            errors.append(f"username {auth.username!r} has no password @ {where}.auth.password")
        elif auth.password and not auth.username:
            errors.append(f"a password without a username @ {where}.auth.username")
        elif not auth.username:
            errors.append(
                f'no credentials: set token = "${{UPCLOUD_TOKEN}}", or username and password '
                f"@ {where}.auth"
            )
    checks["auth"] = "failed" if errors else "passed"
    before = len(errors)
    errors += _check_api(settings, where, warnings)
    checks["api"] = "failed" if len(errors) > before else "passed"
    before = len(errors)
    errors += _check_options(settings, where, warnings)
    checks["options"] = "failed" if len(errors) > before else "passed"
    return ValidationReport(valid=not errors, errors=errors, warnings=warnings, checks=checks)


def _check_api(settings: ProviderSettings, where: str, warnings: list[str]) -> list[str]:
    errors = []
    base_url = settings.api.base_url
    if base_url is not None:
        parts = urlsplit(base_url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            errors.append(
                f"base_url {base_url!r} is not an http(s) URL such as {DEFAULT_BASE_URL} "
                f"@ {where}.api.base_url"
            )
        else:
            if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
                warnings.append(
                    f"base_url {base_url!r} is plain http: credentials would cross the network "
                    f"unencrypted @ {where}.api.base_url"
                )
            if not parts.path.rstrip("/").endswith("/1.3"):
                warnings.append(
                    f"base_url {base_url!r} does not end in /1.3, the API version this provider "
                    f"speaks @ {where}.api.base_url"
                )
    if not settings.api.timeout > 0:
        errors.append(
            f"timeout must be above 0 seconds, not {settings.api.timeout} @ {where}.api.timeout"
        )
    if not settings.api.verify_tls:
        warnings.append(
            "verify_tls = false is ignored: upcloud-api always verifies TLS "
            f"@ {where}.api.verify_tls"
        )
    return errors


def _check_options(settings: ProviderSettings, where: str, warnings: list[str]) -> list[str]:
    options = settings.options
    errors = []
    known = ", ".join(sorted(OPTIONS))
    warnings += [
        f"unknown option {name!r} ignored; known: {known} @ {where}.options.{name}"
        for name in sorted(set(options) - OPTIONS)
    ]
    tier = options.get("storage_tier")
    if tier is not None and tier not in TIERS:
        errors.append(
            f"storage_tier must be one of {', '.join(TIERS)}, not {tier!r} "
            f"@ {where}.options.storage_tier"
        )
    size = options.get("storage_size")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 1):
        errors.append(
            f"storage_size must be a whole number of GB, not {size!r} "
            f"@ {where}.options.storage_size"
        )
    for name in ("maintenance_timeout", "poll_interval", "stop_timeout"):
        value = options.get(name)
        if value is not None and (
            not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0
        ):
            errors.append(
                f"{name} must be a number of seconds above 0, not {value!r} "
                f"@ {where}.options.{name}"
            )
    return errors


@hookimpl
def test_connection(settings: ProviderSettings) -> ConnectionResult:
    start = time.perf_counter()
    try:
        client = UpCloud(settings)
        details = {"base_url": client.base_url}
        account = client.account()
    except ProvisioningError as exc:  # a refused login is a result, not a failure
        return ConnectionResult(ok=False, message=exc.message)
    details["username"] = str(account.get("username", ""))
    return ConnectionResult(
        ok=True,
        message=f"logged in to UpCloud at {client.base_url} as {details['username']}",
        latency_ms=(time.perf_counter() - start) * 1000,
        details=details,
    )


@hookimpl
def create_server(settings: ProviderSettings, config: ServerConfig, check: bool) -> Server:
    client = UpCloud(settings)
    rules = [records.rule_body(rule, n) for n, rule in enumerate(config.firewall_rules)]
    # reads only, also in check mode: they prove the plan and the OS exist
    plan = _plan(client, config.plan)
    template = records.template_for(config.os, client.templates())
    sdk_server = _sdk_server(settings, config, plan, template, firewall=bool(rules))
    if check:
        log.info(
            "upcloud: check mode: would POST %s/server %s",
            client.base_url,
            json.dumps(sdk_server.prepare_post_body(), sort_keys=True),
        )
        for rule in rules:
            log.info(
                "upcloud: check mode: would POST %s/server/{uuid}/firewall_rule %s",
                client.base_url,
                json.dumps({"firewall_rule": rule}, sort_keys=True),
            )
        return Server(
            id="",
            hostname=config.hostname,
            status=ServerStatus.CREATING,
            plan=config.plan,
            zone=config.zone,
            tags=dict(config.tags),
        )
    record = client.create(sdk_server)
    server_id = str(record["uuid"])
    records.intend(server_id, ServerStatus.CREATING)
    try:
        for rule in rules:
            client.add_firewall_rule(server_id, rule)
    except ProvisioningError as exc:
        # never transient: a retry of create_server would make a second server
        raise ProvisioningError(
            f"UpCloud: server {config.hostname} ({server_id}) was created, but setting its "
            f"firewall rules failed: {exc.message}",
            hint=f"set them with prov server firewall {config.hostname} --rule ..., or delete "
            "the server",
        ) from None
    return records.server_record(record)


@hookimpl
def delete_server(settings: ProviderSettings, server_id: str) -> None:
    client = UpCloud(settings)
    record = _settled(client, server_id, "delete")
    if record.get("state") == "started":  # UpCloud deletes stopped servers only
        records.intend(server_id, ServerStatus.DELETING)
        client.stop(server_id, hard=True, timeout=1)
        _wait(client, server_id, "delete", lambda r: r.get("state") == "stopped")
    client.delete(server_id)
    records.forget(server_id)


@hookimpl
def list_servers(settings: ProviderSettings) -> list[Server]:
    client = UpCloud(settings)
    servers = client.servers()
    if not servers:
        return []
    by_server: dict[str, list[dict[str, Any]]] = {}
    for address in client.addresses():  # one request for every server's addresses
        by_server.setdefault(str(address.get("server")), []).append(address)
    return [records.server_record(s, by_server.get(str(s["uuid"]), [])) for s in servers]


@hookimpl
def get_server_info(settings: ProviderSettings, server_id: str) -> Server:
    return records.server_record(UpCloud(settings).server(server_id))


@hookimpl
def start_server(settings: ProviderSettings, server_id: str) -> None:
    client = UpCloud(settings)
    if _settled(client, server_id, "start").get("state") == "started":
        return
    records.intend(server_id, ServerStatus.STARTING)
    client.start(server_id)


@hookimpl
def stop_server(settings: ProviderSettings, server_id: str) -> None:
    client = UpCloud(settings)
    if _settled(client, server_id, "stop").get("state") == "stopped":
        return
    records.intend(server_id, ServerStatus.STOPPING)
    timeout = int(_option(settings, "stop_timeout", DEFAULT_STOP_TIMEOUT))
    client.stop(server_id, timeout=timeout)


@hookimpl
def reboot_server(settings: ProviderSettings, server_id: str) -> None:
    client = UpCloud(settings)
    if _settled(client, server_id, "reboot").get("state") == "stopped":
        records.intend(server_id, ServerStatus.STARTING)  # a stopped server reboots by starting
        client.start(server_id)
        return
    records.intend(server_id, ServerStatus.REBOOTING)
    timeout = int(_option(settings, "stop_timeout", DEFAULT_STOP_TIMEOUT))
    client.restart(server_id, timeout=timeout)


@hookimpl
def get_plans(settings: ProviderSettings) -> list[Plan]:
    return [records.plan_record(p) for p in UpCloud(settings).plans()]


@hookimpl
def get_zones(settings: ProviderSettings) -> list[Zone]:
    return [records.zone_record(z) for z in UpCloud(settings).zones()]


@hookimpl
def get_pricing(settings: ProviderSettings) -> list[Price]:
    client = UpCloud(settings)
    plans = client.plans()
    zones = {str(z.get("id")) for z in client.zones()}
    return records.prices(client.prices(), plans, zones)


@hookimpl
def get_ssh_access(settings: ProviderSettings, server_id: str) -> SshAccess:
    record = UpCloud(settings).server(server_id)
    address = records.public_ipv4(record)
    if address is None:
        raise ProvisioningError(
            f"UpCloud server {record.get('hostname')} ({server_id}) has no public IPv4 address "
            "to reach over SSH",
            hint="attach a public IPv4 address to it in UpCloud, or reach it over its private "
            "network",
        )
    return SshAccess(host=address, port=22, user=_login_user(settings))


@hookimpl
def configure_firewall(
    settings: ProviderSettings, server_id: str, rules: list[FirewallRule]
) -> None:
    wanted = [records.rule_body(rule, n) for n, rule in enumerate(rules)]  # all checked first
    client = UpCloud(settings)
    record = _settled(client, server_id, "configure the firewall of")
    existing = client.firewall_rules(server_id)
    if not records.same_rules(existing, wanted):
        # from the last position down: positions after a deleted rule shift
        for position in range(len(existing), 0, -1):
            client.delete_firewall_rule(server_id, position)
        for rule in wanted:
            client.add_firewall_rule(server_id, rule)
    if record.get("firewall") != "on":
        client.modify(server_id, firewall="on")
