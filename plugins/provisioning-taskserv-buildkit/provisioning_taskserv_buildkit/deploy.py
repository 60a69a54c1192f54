"""What each operation does on a connected :class:`Host`, as idempotent steps.

Layout (logical paths, settings in brackets): each version is unpacked into
``[install_dir]/<version>`` with its release tarball, its binaries linked into
``[bin_dir]``; ``[config_dir]/config.toml`` is rendered from the template
shipped in this package and ``[config_dir]/.prov-version`` records what is
installed.  The service runs the versioned binary, so moving to another
version changes the unit and restarts the service.  Every mutating function
takes ``check`` and then changes nothing, returning what it would do.
"""

from __future__ import annotations

import shlex
from importlib.resources import files

from packaging.version import InvalidVersion, Version
from provisioning_core import (
    Absent,
    Directory,
    File,
    HealthCheck,
    Host,
    OperationResult,
    ProvisioningError,
    Service,
    ServiceDefinition,
    TaskservStatus,
    TaskservVersion,
    UpdateInfo,
    apply_steps,
    check_health,
    github_versions,
)
from provisioning_core.runtime import (
    ReleaseAsset,
    Step,
    latest_version,
    release_asset,
    unlink_binaries,
    unpack_steps,
)

from provisioning_taskserv_buildkit.settings import TABLE, Settings

__all__ = [
    "NAME",
    "available_versions",
    "check_updates",
    "configure",
    "current_version",
    "health_check",
    "install",
    "restart",
    "status",
    "uninstall",
    "upgrade",
]

NAME = "buildkit"
_MARKER = ".prov-version"


# --- what is buildkit-specific ---------------------------------------------------------------


def _config_path(s: Settings) -> str:
    return f"{s.config_dir}/buildkitd.toml"


def _config_file(host: Host, s: Settings, version: str) -> File:
    addresses = [f"unix://{host.path(s.socket)}"]
    if s.tcp_port is not None:
        # sandboxes share this machine: each keeps to its own loopback address
        address = (host.address or "127.0.0.1") if host.sandbox else s.tcp_address
        address = f"[{address}]" if ":" in address else address
        addresses.append(f"tcp://{address}:{s.tcp_port}")
    context = {
        "version": version,
        "root": host.path(s.data_dir),
        "debug": "true" if s.debug else "false",
        "addresses": addresses,
        "containerd_socket": host.path(s.containerd_socket),
        "namespace": s.containerd_namespace,
    }
    template = files(__package__).joinpath("templates/buildkitd.toml.j2").read_text()
    return File(_config_path(s), template=template, context=context)


def _definition(host: Host, s: Settings, version: str) -> ServiceDefinition:
    return ServiceDefinition(
        name=NAME,
        exec=[
            host.path(f"{_version_dir(s, version)}/bin/buildkitd"),
            "--config",
            host.path(_config_path(s)),
        ],
        description="BuildKit daemon with the containerd worker (installed by provisioning)",
        restart="always",
    )


def health_check(host: Host, s: Settings, version: str) -> HealthCheck:
    """``buildctl debug workers`` asks the daemon over its socket for its workers."""
    buildctl = shlex.quote(host.path(f"{_version_dir(s, version)}/bin/buildctl"))
    address = shlex.quote(f"unix://{host.path(s.socket)}")
    return HealthCheck(
        type="command",
        command=f"{buildctl} --addr {address} debug workers",
        interval=s.health_interval,
        timeout=10.0,
        retries=s.health_retries,
    )


def _health_address(host: Host, s: Settings) -> str | None:  # noqa: ARG001 - uniform
    return None  # a command check: no address


_BINARIES = "bin/*"  # buildkitd, buildctl and the helpers shipped beside them


def _extra_dirs(s: Settings) -> list[Step]:
    return [Directory(s.data_dir, 0o711), Directory(s.state_dir, 0o711)]


def _leftovers(s: Settings) -> list[str]:
    return [s.state_dir]  # the socket goes with the service


def _data_dirs(s: Settings) -> list[str]:
    return [s.data_dir]  # build cache and snapshots


# --- the recipe every release-tarball taskserv follows ---------------------------------------


def _version_dir(s: Settings, version: str) -> str:
    return f"{s.install_dir}/{version}"


def _marker(s: Settings) -> str:
    return f"{s.config_dir}/{_MARKER}"


def current_version(host: Host, s: Settings) -> str | None:
    """The version the install recorded on ``host`` (None: not installed)."""
    raw = host.read(_marker(s))
    return (raw.decode(errors="replace").strip() or None) if raw is not None else None


def resolve(host: Host, s: Settings, version: str | None) -> ReleaseAsset:
    """The release tarball of ``version`` (None: the latest) for ``host``'s architecture."""
    wanted = version or latest_version(s.repository, api_url=s.api_url, token=s.token)
    wanted = wanted.removeprefix("v")
    names = {"version": wanted, "arch": host.arch}
    return release_asset(
        s.repository,
        wanted,
        s.asset.format(**names),
        checksums=s.checksums.format(**names) or None,
        sha256=s.sha256,
        download_url=s.download_url,
        pin_setting=f"[{TABLE}] sha256",
    )


def install(host: Host, version: str | None, s: Settings, *, check: bool) -> OperationResult:
    """Put ``version`` (None: the latest release) on ``host``, running and healthy."""
    asset = resolve(host, s, version)
    before = current_version(host, s)
    result = _deploy(host, asset, s, before, check=check)
    new = f"{NAME} {asset.version}"
    if before and before != asset.version:
        what = (
            f"replaced {NAME} {before} with {asset.version}",
            f"would replace {before} with {new}",
        )
    else:
        what = (f"installed {new}", f"would install {new}")
    return _finish(result, what, f"{new} is already installed", check=check)


def upgrade(host: Host, version: str, s: Settings, *, check: bool) -> OperationResult:
    """Move the installed taskserv to ``version``; its data directory is left alone."""
    before = _require_installed(host, s, "upgrade")
    asset = resolve(host, s, version)
    if before == asset.version:
        return OperationResult(changed=False, message=f"{NAME} is already at {asset.version}")
    result = _deploy(host, asset, s, before, check=check)
    move = f"{NAME} {before} -> {asset.version}"
    return _finish(result, (f"upgraded {move}", f"would upgrade {move}"), "", check=check)


def _deploy(
    host: Host, asset: ReleaseAsset, s: Settings, before: str | None, *, check: bool
) -> OperationResult:
    version = asset.version
    steps = [
        *unpack_steps(host, asset, _version_dir(s, version), bin_dir=s.bin_dir, binaries=_BINARIES),
        Directory(s.config_dir),
        *_extra_dirs(s),
        _config_file(host, s, version),
    ]
    files_result = apply_steps(host, steps, check=check)
    # new binaries or config take effect in a fresh process only
    running = host.services.status(NAME).running
    state = "restarted" if files_result.changed and running else "started"
    service = Service(_definition(host, s, version), state=state)
    tail: list[Step] = [service, File(_marker(s), f"{version}\n")]
    if before and before != version:
        old = _version_dir(s, before)
        tail += [unlink_binaries(host, old, s.bin_dir), Absent(old)]
    result = _merge(files_result, apply_steps(host, tail, check=check))
    if not check:
        _require_healthy(host, s, version)
    return result


def _require_healthy(host: Host, s: Settings, version: str) -> None:
    health = check_health(host, health_check(host, s, version), address=_health_address(host, s))
    if not health.healthy:
        raise ProvisioningError(
            f"{NAME} {version} was installed on {host.name} but is not healthy: {health.message}",
            hint=f"see its log ({_log_hint(host)}), fix [{TABLE}] or the server, then run "
            "the command again",
        )


def _log_hint(host: Host) -> str:
    if host.sandbox:
        return f"{host.path(f'/var/log/{NAME}.log')} on this machine"
    return f"journalctl -u {NAME} on {host.name}"


def configure(host: Host, s: Settings, *, check: bool) -> OperationResult:
    """Render the config from ``s``; restart the service if it changed and is running."""
    version = _require_installed(host, s, "configure")
    files_result = apply_steps(
        host,
        [Directory(s.config_dir), *_extra_dirs(s), _config_file(host, s, version)],
        check=check,
    )
    running = host.services.status(NAME).running
    # a stopped service stays stopped; a running one takes a changed config by restarting
    state = ("restarted" if files_result.changed else "started") if running else "stopped"
    service = apply_steps(host, [Service(_definition(host, s, version), state=state)], check=check)
    result = _merge(files_result, service)
    if not check and running:
        _require_healthy(host, s, version)
    return _finish(
        result,
        (f"applied the new configuration of {NAME}", f"would reconfigure {NAME}"),
        f"the configuration of {NAME} is already as wanted",
        check=check,
    )


def restart(host: Host, s: Settings, *, check: bool) -> OperationResult:
    """Restart the service (installing its unit again if it went missing)."""
    version = _require_installed(host, s, "restart")
    definition = host.services.installed(NAME) or _definition(host, s, version)
    result = apply_steps(host, [Service(definition, state="restarted")], check=check)
    if not check:
        _require_healthy(host, s, version)
    return _finish(result, (f"restarted {NAME}", f"would restart {NAME}"), "", check=check)


def uninstall(host: Host, s: Settings, *, keep_data: bool, check: bool) -> OperationResult:
    """Stop and remove the service, binaries and config (and the data unless ``keep_data``)."""
    steps: list[Step] = []
    definition = host.services.installed(NAME)
    if definition is not None:
        steps.append(Service(definition, state="absent"))
    steps += [unlink_binaries(host, s.install_dir, s.bin_dir), Absent(s.install_dir)]
    steps += [Absent(p) for p in (s.config_dir, *_leftovers(s))]
    if not keep_data:
        steps += [Absent(p) for p in _data_dirs(s)]
    kept = f", keeping its data in {', '.join(_data_dirs(s))}" if keep_data else ""
    return _finish(
        apply_steps(host, steps, check=check),
        (f"uninstalled {NAME}{kept}", f"would uninstall {NAME}{kept}"),
        f"{NAME} is not installed",
        check=check,
    )


def status(host: Host, s: Settings) -> TaskservStatus:
    """Installed, running, healthy (one health check), version, uptime and memory."""
    version = current_version(host, s)
    definition = host.services.installed(NAME)
    if version is None and definition is None:
        return TaskservStatus(name=NAME, installed=False, message="not installed")
    state = host.services.status(NAME)
    if not state.running:
        missing = "" if definition else "; its service unit is missing: install it again"
        return TaskservStatus(
            name=NAME,
            installed=True,
            running=False,
            version=version,
            message="installed but not running" + missing,
        )
    health = None
    if version is not None:
        health = check_health(
            host,
            health_check(host, s, version),
            address=_health_address(host, s),
            retries=1,
        )
    parts = [health.message if health else "no version recorded: install it again"]
    if state.uptime_seconds is not None:
        parts.append(f"up {state.uptime_seconds:.0f} s")
    if state.memory_mb is not None:
        parts.append(f"{state.memory_mb:.1f} MB")
    return TaskservStatus(
        name=NAME,
        installed=True,
        running=True,
        healthy=health.healthy if health else None,
        version=version,
        uptime_seconds=state.uptime_seconds,
        memory_mb=state.memory_mb,
        message="; ".join(p for p in parts if p),
    )


def available_versions(s: Settings) -> list[TaskservVersion]:
    """The releases of ``s.repository``, newest first, from the GitHub API."""
    return github_versions(s.repository, base_url=s.api_url, token=s.token)


def check_updates(host: Host, s: Settings) -> UpdateInfo:
    """The installed version against the newest stable release."""
    current = current_version(host, s)
    latest = latest_version(s.repository, api_url=s.api_url, token=s.token)
    if current is None:
        return UpdateInfo(
            current=None, latest=latest, update_available=False, message="not installed"
        )
    try:
        newer = Version(latest) > Version(current)
    except InvalidVersion:
        newer = latest != current
    message = f"{latest} is available (installed: {current})" if newer else "up to date"
    return UpdateInfo(current=current, latest=latest, update_available=newer, message=message)


# --- internals ---


def _require_installed(host: Host, s: Settings, action: str) -> str:
    version = current_version(host, s)
    if version is None:
        raise ProvisioningError(
            f"cannot {action} {NAME} on {host.name}: it is not installed there (no {_marker(s)})",
            hint=f"install it first: prov taskserv install {NAME} --server {host.name}",
        )
    return version


def _merge(*results: OperationResult) -> OperationResult:
    actions = [a for r in results for a in r.actions]
    return OperationResult(changed=any(r.changed for r in results), actions=actions)


def _finish(
    result: OperationResult, done: tuple[str, str], unchanged: str, *, check: bool
) -> OperationResult:
    """``done`` is what happened and what would happen: ("installed x", "would install x")."""
    if not result.changed:
        return OperationResult(changed=False, message=unchanged or "nothing to change")
    return OperationResult(
        changed=True, message=done[1] if check else done[0], actions=list(result.actions)
    )
