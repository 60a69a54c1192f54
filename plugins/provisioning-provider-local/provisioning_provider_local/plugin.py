"""The hooks of the ``local`` provider: servers that are sandboxes on this machine.

Settings (``[providers.local]``): ``options.ssh_port`` (a fixed port for
every sandbox's SSH endpoint; each sandbox has its own address, so they do
not collide) and ``options.start_timeout`` (seconds a daemon may take to
listen, default 15).  See the distribution's README for the model.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import socket
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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
    ServerNotFound,
    ServerStatus,
    SshAccess,
    ValidationReport,
    Zone,
    hookimpl,
    unstructure,
)

from provisioning_provider_local import __version__, addresses, lifecycle
from provisioning_provider_local.store import (
    PROVIDER,
    Meta,
    Sandbox,
    all_sandboxes,
    client_key_path,
    is_sandbox_id,
    local_dir,
    locked,
    new_id,
    servers_dir,
    write_json,
)

# Sizes are descriptive: a sandbox shares this machine's CPUs, memory and disk.
PLANS = (
    Plan("small", cores=1, memory_mb=1024, storage_gb=10),
    Plan("medium", cores=2, memory_mb=4096, storage_gb=40),
    Plan("large", cores=4, memory_mb=8192, storage_gb=80),
)
ZONE = Zone("local", "this machine")
OPTIONS = {"ssh_port", "start_timeout"}
DEFAULT_START_TIMEOUT = 15.0
_MAX_PORT = 65535
_PRIVILEGED = 1024


# -- helpers -----------------------------------------------------------------------


def _options(settings: ProviderSettings | None) -> dict[str, Any]:
    return dict(settings.options) if settings is not None else {}


def _lock() -> Path:
    return local_dir() / ".lock"


def _find(server_id: str) -> tuple[Sandbox, Meta]:
    sandbox = Sandbox.of(server_id)
    if sandbox is None:
        raise ServerNotFound(server_id, provider=PROVIDER)
    try:
        return sandbox, sandbox.load()
    except FileNotFoundError:  # deleted meanwhile
        raise ServerNotFound(server_id, provider=PROVIDER) from None


@contextlib.contextmanager
def _holding(server_id: str) -> Iterator[tuple[Sandbox, Meta]]:
    """The sandbox locked against other changes, its metadata read under the lock."""
    sandbox, _ = _find(server_id)
    with locked(sandbox.lock_path):
        yield _find(server_id)  # again: it may have been deleted while we waited


def _server(sandbox: Sandbox, meta: Meta, status: ServerStatus | None = None) -> Server:
    return Server(
        id=meta.id,
        hostname=meta.hostname,
        status=status or lifecycle.status(sandbox, meta),
        plan=meta.plan,
        zone=meta.zone,
        ip_addresses=[meta.address],
        tags=dict(meta.tags),
    )


def _check_config(config: ServerConfig, existing: list[tuple[Sandbox, Meta]]) -> list[str]:
    from provisioning_provider_local.keys import parse_public_keys

    problems = []
    plans = [p.name for p in PLANS]
    if config.plan not in plans:
        problems.append(f"unknown plan {config.plan!r}; choose one of {', '.join(plans)} @ $.plan")
    if config.zone != ZONE.name:
        problems.append(f"unknown zone {config.zone!r}; the only zone is {ZONE.name!r} @ $.zone")
    problems += parse_public_keys(list(config.ssh_keys))[1]
    if config.storage is not None:  # refused, not ignored: the user asked for a disk
        problems.append("a sandbox has no disk of its own: storage does not apply @ $.storage")
    network = config.network
    if network is not None and (
        not network.public_ip or network.private_network or network.bandwidth
    ):
        problems.append(
            "a sandbox has one loopback address and no private network or bandwidth cap: "
            "network does not apply @ $.network"
        )
    problems += [
        f"{config.hostname} already exists (id {meta.id}) @ $.hostname"
        for _, meta in existing
        if meta.hostname == config.hostname
    ]
    return problems


def _refuse(config: ServerConfig, problems: list[str]) -> None:
    if problems:
        raise ConfigError(
            f"cannot create local server {config.hostname!r}",
            problems=problems,
            hint="prov server plans --provider local and prov server zones --provider local "
            "list what it offers; prov server list shows the servers that exist",
        )


def _rules_data(rules: list[FirewallRule]) -> list[dict[str, Any]]:
    return [dict(r) if isinstance(r, dict) else unstructure(r) for r in rules]


def _remove_tree(path: Path) -> None:
    def retry(function: Callable[..., Any], name: str, _: Any) -> None:
        # a directory the sandbox made read-only: make it ours again
        with contextlib.suppress(OSError):
            os.chmod(Path(name).parent, stat.S_IRWXU)  # noqa: PTH101
            os.chmod(name, stat.S_IRWXU)  # noqa: PTH101
        function(name)

    if not path.exists():
        return
    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=retry)
    else:  # onerror is deprecated from 3.12 on
        shutil.rmtree(path, onerror=retry)


def _start(settings: ProviderSettings | None, sandbox: Sandbox, meta: Meta) -> Meta:
    """Launch the daemon and record it; the sandbox's lock (or its creation) is held."""
    options = _options(settings)
    fixed = options.get("ssh_port")
    timeout = float(options.get("start_timeout") or DEFAULT_START_TIMEOUT)
    meta.state, meta.daemon_pid, meta.launched_at = "starting", None, time.time()
    sandbox.save(meta)
    try:
        pid, port = lifecycle.launch(
            sandbox,
            meta,
            port=int(fixed) if fixed else meta.port,
            exact=bool(fixed),
            timeout=timeout,
        )
    except BaseException:
        meta.state = "running"  # asked to run, but it does not: status error says so
        sandbox.save(meta)
        raise
    meta.state, meta.daemon_pid, meta.port = "running", pid, port
    sandbox.save(meta)
    return meta


def _stop(sandbox: Sandbox, meta: Meta) -> None:
    lifecycle.stop(sandbox)
    meta.state, meta.daemon_pid = "stopped", None
    sandbox.save(meta)


def _populate(sandbox: Sandbox, config: ServerConfig, client_key: str) -> None:
    from provisioning_provider_local.keys import make_host_key, parse_public_keys

    for sub in ("root", "etc/rc.d", "var/log", "tmp", "usr/local/bin"):
        (sandbox.root / sub).mkdir(parents=True, exist_ok=True)
    make_host_key(sandbox.host_key_path)
    keys = [client_key, *parse_public_keys(list(config.ssh_keys))[0]]
    sandbox.authorized_keys_path.write_text("\n".join(keys) + "\n", encoding="utf-8")
    write_json(sandbox.firewall_path, _rules_data(list(config.firewall_rules)))


# -- hooks ---------------------------------------------------------------------------


@hookimpl
def provider_info() -> ProviderInfo:
    return ProviderInfo(
        name=PROVIDER,
        version=__version__,
        description="sandboxes on this machine, each with its own SSH endpoint on 127.0.0.N",
        regions=[ZONE.name],
        interface="local",
        supported_operations=[
            "provider-info",
            "validate-config",
            "test-connection",
            "create-server",
            "delete-server",
            "list-servers",
            "get-server-info",
            "start-server",
            "stop-server",
            "reboot-server",
            "get-pricing",
            "get-plans",
            "get-zones",
            "get-ssh-access",
            "configure-firewall",
        ],
        default_zone=ZONE.name,
        default_plan=PLANS[0].name,
    )


@hookimpl
def validate_config(settings: ProviderSettings) -> ValidationReport:
    errors: list[str] = []
    warnings: list[str] = []
    checks: dict[str, str] = {}
    where = f"$.providers.{PROVIDER}"
    if not sys.platform.startswith("linux"):
        errors.append(
            f"the local provider needs Linux (/proc and the 127.0.0.0/8 loopback), "
            f"not {sys.platform} @ {where}"
        )
    checks["platform"] = "failed" if errors else "passed"
    options = _options(settings)
    before = len(errors)
    warnings += [
        f"unknown option {name!r} ignored; known: {', '.join(sorted(OPTIONS))} "
        f"@ {where}.options.{name}"
        for name in sorted(set(options) - OPTIONS)
    ]
    port = options.get("ssh_port")
    if port is not None:
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= _MAX_PORT:
            errors.append(
                f"ssh_port must be a port number 1-65535, not {port!r} @ {where}.options.ssh_port"
            )
        elif port < _PRIVILEGED and os.geteuid() != 0:
            warnings.append(
                f"ssh_port {port} needs root to bind; servers will fail to start "
                f"@ {where}.options.ssh_port"
            )
    timeout = options.get("start_timeout")
    if timeout is not None and (
        not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0
    ):
        errors.append(
            f"start_timeout must be a number of seconds above 0, not {timeout!r} "
            f"@ {where}.options.start_timeout"
        )
    checks["options"] = "failed" if len(errors) > before else "passed"
    user = settings.defaults.ssh_user if settings is not None else None
    if user and user != getpass.getuser():
        warnings.append(
            f"defaults.ssh_user {user!r} is ignored: local servers log in as the current user "
            f"{getpass.getuser()!r} @ {where}.defaults.ssh_user"
        )
    return ValidationReport(valid=not errors, errors=errors, warnings=warnings, checks=checks)


@hookimpl
def test_connection(settings: ProviderSettings) -> ConnectionResult:
    start = time.perf_counter()
    details: dict[str, str] = {"state_dir": str(local_dir())}
    try:
        local_dir().mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=local_dir(), prefix=".probe-"):
            pass
    except OSError as exc:
        return ConnectionResult(
            ok=False,
            message=f"cannot write the state directory {local_dir()}: {exc}",
            details=details,
        )
    address = addresses.next_free({meta.address for _, meta in all_sandboxes()})
    port = _options(settings).get("ssh_port") or 0
    details["address"] = address
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((address, int(port)))
    except OSError as exc:
        return ConnectionResult(
            ok=False,
            message=f"cannot listen on {address}:{port or 'any port'}: {exc}",
            details=details,
        )
    return ConnectionResult(
        ok=True,
        message=f"can listen on {address} and write {local_dir()}",
        latency_ms=(time.perf_counter() - start) * 1000,
        details=details,
    )


def _sweep_debris() -> None:
    """Remove what a create killed before it wrote the metadata left (lock held).

    A create holds the provider's lock from making the sandbox's directory to
    writing its metadata, so under the lock a directory without metadata is
    not being made: a killed create left it, with no process yet and maybe an
    address claim.  It is listed nowhere, so it is removed here.
    """
    base = servers_dir()
    if not base.is_dir():
        return
    for entry in base.iterdir():
        if not is_sandbox_id(entry.name) or not entry.is_dir():
            continue
        sandbox = Sandbox(entry)
        if sandbox.meta_path.exists():
            continue
        with contextlib.suppress(Exception):
            lifecycle.stop(sandbox)
        addresses.release_all(sandbox.dir)
        _remove_tree(sandbox.dir)


@hookimpl
def create_server(settings: ProviderSettings, config: ServerConfig, check: bool) -> Server:
    if check:  # validate and describe; touch nothing, not even the state directory
        existing = all_sandboxes()
        _refuse(config, _check_config(config, existing))
        address = addresses.next_free({meta.address for _, meta in existing})
        return Server(
            id="",
            hostname=config.hostname,
            status=ServerStatus.CREATING,
            plan=config.plan,
            zone=config.zone,
            ip_addresses=[address],
            tags=dict(config.tags),
        )
    from provisioning_provider_local.keys import ensure_client_key

    with locked(_lock()):  # one address and one hostname per sandbox, across processes
        _sweep_debris()
        existing = all_sandboxes()
        _refuse(config, _check_config(config, existing))
        client_key = ensure_client_key()
        sandbox = Sandbox(servers_dir() / new_id())
        sandbox.dir.mkdir(parents=True)  # first: a claim whose directory is missing is stale
        try:
            address = addresses.claim({m.address for _, m in existing}, sandbox.dir)
        except BaseException:
            _remove_tree(sandbox.dir)
            raise
        meta = Meta(
            id=sandbox.id,
            hostname=config.hostname,
            plan=config.plan,
            zone=config.zone,
            os=config.os,
            address=address,
            created_at=time.time(),
            tags=dict(config.tags),
            launched_at=time.time(),
        )
        sandbox.save(meta)
    try:
        with locked(sandbox.lock_path):
            _populate(sandbox, config, client_key)
            meta = _start(settings, sandbox, meta)
    except BaseException:
        # nothing half-made is left behind: no process, no files
        with contextlib.suppress(Exception):
            lifecycle.stop(sandbox)
        addresses.release(meta.address, sandbox.dir)
        _remove_tree(sandbox.dir)
        raise
    return _server(sandbox, meta, ServerStatus.RUNNING)


@hookimpl
def delete_server(server_id: str) -> None:
    with _holding(server_id) as (sandbox, meta):
        lifecycle.stop(sandbox)
        # released before the directory goes: until then nobody may take the claim as stale
        addresses.release(meta.address, sandbox.dir)
        _remove_tree(sandbox.dir)


@hookimpl
def list_servers() -> list[Server]:
    if servers_dir().is_dir():
        with locked(_lock()):  # what killed creates left is cleared where one looks
            _sweep_debris()
    return [_server(sandbox, meta) for sandbox, meta in all_sandboxes()]


@hookimpl
def get_server_info(server_id: str) -> Server:
    sandbox, meta = _find(server_id)
    return _server(sandbox, meta)


@hookimpl
def start_server(settings: ProviderSettings, server_id: str) -> None:
    with _holding(server_id) as (sandbox, meta):
        if lifecycle.status(sandbox, meta) is ServerStatus.RUNNING:
            return
        lifecycle.stop(sandbox)  # what a daemon that died left behind
        _start(settings, sandbox, meta)


@hookimpl
def stop_server(server_id: str) -> None:
    with _holding(server_id) as (sandbox, meta):
        _stop(sandbox, meta)


@hookimpl
def reboot_server(settings: ProviderSettings, server_id: str) -> None:
    with _holding(server_id) as (sandbox, meta):
        _stop(sandbox, meta)
        _start(settings, sandbox, meta)


@hookimpl
def get_plans() -> list[Plan]:
    return list(PLANS)


@hookimpl
def get_zones() -> list[Zone]:
    return [ZONE]


@hookimpl
def get_pricing() -> list[Price]:
    return [Price(plan.name, ZONE.name, hourly=0.0, currency="EUR") for plan in PLANS]


@hookimpl
def get_ssh_access(server_id: str) -> SshAccess:
    sandbox, meta = _find(server_id)
    if meta.port is None:
        raise ProvisioningError(
            f"local server {meta.hostname} ({meta.id}) has never listened for SSH",
            hint=f"start it: prov server start {meta.hostname}",
        )
    return SshAccess(
        host=meta.address,
        port=meta.port,
        user=getpass.getuser(),
        key_path=str(client_key_path()),
        host_key=sandbox.host_pub_path.read_text(encoding="ascii").strip(),
    )


@hookimpl
def configure_firewall(server_id: str, rules: list[FirewallRule]) -> None:
    with _holding(server_id) as (sandbox, _):
        # the daemon reads the rules on every new connection: no restart
        write_json(sandbox.firewall_path, _rules_data(list(rules)))
