"""What each operation does on a connected :class:`Host`, as idempotent steps.

Paths here are logical ("/etc/my-service/config.json"); the host maps them
(under the sandbox root for a local server).  Every mutating function takes
``check`` and then changes nothing, returning what it would do.
"""

from __future__ import annotations

import json

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
    apply_steps,
    check_health,
)
from provisioning_core.runtime import Step, change_details, remove_service

from provisioning_taskserv_my_service import payload
from provisioning_taskserv_my_service.program import Program
from provisioning_taskserv_my_service.settings import Settings

__all__ = [
    "BINARY",
    "CONFIG",
    "CONFIG_DIR",
    "DATA_DIR",
    "NAME",
    "configure",
    "current_version",
    "install",
    "restart",
    "status",
    "uninstall",
    "upgrade",
]

NAME = "my-service"
BINARY = "/usr/local/bin/my-service"
CONFIG_DIR = "/etc/my-service"
CONFIG = f"{CONFIG_DIR}/config.json"
DATA_DIR = "/var/lib/my-service"
_WILDCARDS = {"0.0.0.0", "::", ""}  # noqa: S104 - the listen addresses meaning "all"


def current_version(host: Host) -> str | None:
    """The version installed on ``host`` (None: no binary there)."""
    digest = host.sha256(BINARY)
    if digest is None:
        return None
    return payload.shipped_version(digest) or payload.declared_version(host.read(BINARY) or b"")


def install(host: Host, version: str | None, settings: Settings, *, check: bool) -> OperationResult:
    """Put ``version`` (None: the newest shipped) on ``host`` and have it running."""
    wanted = payload.require(version) if version else payload.latest()
    before = current_version(host)
    result = _deploy(host, wanted, settings, check=check)
    if before and before != wanted:
        done = (
            f"replaced {NAME} {before} with {wanted}",
            f"would replace {NAME} {before} with {wanted}",
        )
    else:
        done = (f"installed {NAME} {wanted}", f"would install {NAME} {wanted}")
    return _finish(result, *done, f"{NAME} {wanted} is already installed and running", check=check)


def upgrade(host: Host, version: str, settings: Settings, *, check: bool) -> OperationResult:
    """Move the installed service to ``version``; its data directory is left alone."""
    wanted = payload.require(version)
    before = _require_installed(host, "upgrade")
    if before == wanted:
        return OperationResult(changed=False, message=f"{NAME} is already at {wanted}")
    result = _deploy(host, wanted, settings, check=check)
    move = f"{NAME} {before} -> {wanted}"
    return _finish(result, f"upgraded {move}", f"would upgrade {move}", "", check=check)


def configure(host: Host, settings: Settings, *, check: bool) -> OperationResult:
    """Render the config from ``settings``; restart the service if the config changed."""
    _require_installed(host, "configure")
    files = apply_steps(host, [_config_file(host, settings)], check=check)
    running = host.services.status(NAME).running
    # a new config takes effect in a fresh process; a stopped service stays stopped
    state = ("restarted" if files.changed else "started") if running else "stopped"
    service = apply_steps(host, [Service(_definition(host, settings), state=state)], check=check)
    return _finish(
        _merge(files, service),
        f"applied the new configuration of {NAME}",
        f"would apply a new configuration to {NAME}",
        f"the configuration of {NAME} is already as wanted",
        check=check,
    )


def restart(host: Host, *, check: bool) -> OperationResult:
    """Restart the service with the unit it has."""
    _require_installed(host, "restart")
    definition = host.services.installed(NAME)
    if definition is None:
        raise _not_installed(host, "restart")
    result = apply_steps(host, [Service(definition, state="restarted")], check=check)
    return _finish(result, f"restarted {NAME}", f"would restart {NAME}", "", check=check)


def uninstall(host: Host, *, keep_data: bool, check: bool, force: bool = False) -> OperationResult:
    """Stop and remove the service, its binary and config (and its data unless ``keep_data``).

    With ``force`` a service that will not stop does not stop the rest.
    """
    steps: list[Step] = []
    forced: list[str] = []
    definition = host.services.installed(NAME)
    if definition is not None and force and not check:
        forced = [remove_service(host, NAME, force=True)]
    elif definition is not None:
        steps.append(Service(definition, state="absent"))
    steps += [Absent(BINARY), Absent(CONFIG_DIR)]
    if not keep_data:
        steps.append(Absent(DATA_DIR))
    result = apply_steps(host, steps, check=check)
    if forced:
        result = OperationResult(
            changed=True, actions=[*forced, *result.actions], details=change_details(result)
        )
    kept = f", keeping its data in {DATA_DIR}" if keep_data else ""
    return _finish(
        result,
        f"uninstalled {NAME}{kept}",
        f"would uninstall {NAME}{kept}",
        f"{NAME} is not installed",
        check=check,
    )


def _log_tail(host: Host, lines: int = 5) -> str:
    """The last ``lines`` of the service's log ("" when there is none to read)."""
    if host.services.name == "systemd":
        result = host.run(f"journalctl -u {NAME} -n {lines} --no-pager", check=False)
        return result.text().strip() if result.ok else ""
    data = host.read(f"/var/log/{NAME}.log")
    if not data:
        return ""
    return "\n".join(data.decode(errors="replace").splitlines()[-lines:])


def status(host: Host, settings: Settings) -> TaskservStatus:
    """Installed, running, healthy (one health check), version, uptime and memory."""
    version = current_version(host)
    definition = host.services.installed(NAME)
    if version is None and definition is None:
        return TaskservStatus(name=NAME, installed=False, message="not installed")
    state = host.services.status(NAME)
    if not state.running:
        if definition is None:
            why = f"its service unit is missing: prov taskserv install {NAME} puts it back"
        elif host.services.name == "systemd":
            why = f"see journalctl -u {NAME}"
        else:
            why = f"see its log, /var/log/{NAME}.log"
        if state.failed:  # the manager gave up: say so, with what the log said last
            tail = _log_tail(host)
            return TaskservStatus(
                name=NAME,
                installed=True,
                running=False,
                version=version,
                systemd_status="failed",
                message=f"installed but failed: its service manager gave up restarting it; {why}"
                + (f"; last lines of its log:\n{tail}" if tail else ""),
            )
        return TaskservStatus(
            name=NAME,
            installed=True,
            running=False,
            version=version,
            message=f"installed but not running; {why}",
        )
    address, port = _endpoint(host, settings)
    health = check_health(host, health_check(port), address=address, retries=1)
    parts = [health.message]
    if health.healthy:
        running = _running_version(address, port)
        if running and running != version:
            parts.append(f"the process runs {running}, not {version}: restart it")
    if state.uptime_seconds is not None:
        parts.append(f"up {_duration(state.uptime_seconds)}")
    if state.memory_mb is not None:
        parts.append(f"memory {state.memory_mb:.1f} MB")
    return TaskservStatus(
        name=NAME,
        installed=True,
        running=True,
        healthy=health.healthy,
        version=version,
        uptime_seconds=state.uptime_seconds,
        memory_mb=state.memory_mb,
        message="; ".join(p for p in parts if p),
    )


def health_check(port: int) -> HealthCheck:
    """How to tell the service is healthy: GET /health on its API port answers 2xx."""
    return HealthCheck(
        type="http", endpoint="/health", port=port, interval=1.0, timeout=3.0, retries=5
    )


# --- internals ---


def _deploy(host: Host, version: str, settings: Settings, *, check: bool) -> OperationResult:
    steps: list[Step] = [
        Directory(CONFIG_DIR),
        Directory(DATA_DIR),
        Program(BINARY, version),
        _config_file(host, settings),
    ]
    files = apply_steps(host, steps, check=check)
    # a new binary or config only takes effect in a fresh process
    state = "restarted" if files.changed and host.services.status(NAME).running else "started"
    service = apply_steps(host, [Service(_definition(host, settings), state=state)], check=check)
    return _merge(files, service)


def _config_file(host: Host, settings: Settings) -> File:
    context = {
        "listen": _listen(host, settings),
        "port": settings.port,
        "metrics_port": settings.metrics_port,
        "data_dir": host.path(DATA_DIR),
        "log_level": settings.log_level,
        "greeting": settings.greeting,
    }
    return File(CONFIG, template=payload.config_template(), context=context)


def _listen(host: Host, settings: Settings) -> str:
    if settings.listen is not None:
        return settings.listen
    if host.sandbox:
        # sandboxes share this machine: each keeps to its own loopback address
        return host.address or "127.0.0.1"
    return "0.0.0.0"  # noqa: S104 - a server's service listens on all its interfaces


def _endpoint(host: Host, settings: Settings) -> tuple[str, int]:
    """Where the running service answers: from its deployed config, else from settings."""
    listen, port = _listen(host, settings), settings.port
    raw = host.read(CONFIG)
    if raw is not None:
        try:
            deployed = json.loads(raw)
            listen, port = str(deployed["listen"]), int(deployed["port"])
        except (ValueError, KeyError, TypeError):
            pass  # a damaged config: the health check on the settings' port tells
    if listen in _WILDCARDS:
        listen = host.address or "127.0.0.1"
    return listen, port


def _running_version(address: str, port: int) -> str | None:
    """The version the running process reports on /version (None if it does not say)."""
    import urllib.request

    netloc = f"[{address}]" if ":" in address else address
    # the server itself, never a proxy from the environment
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://{netloc}:{port}/version", timeout=3.0) as response:
            answer = json.loads(response.read())
    except (OSError, ValueError):
        return None
    version = answer.get("version") if isinstance(answer, dict) else None
    return version if isinstance(version, str) else None


def _definition(host: Host, settings: Settings) -> ServiceDefinition:
    return ServiceDefinition(
        name=NAME,
        exec=[_python(host, settings), host.path(BINARY), "--config", host.path(CONFIG)],
        description="my-service, the provisioning example service",
        working_dir=host.path(DATA_DIR),
        restart="on-failure",
    )


def _python(host: Host, settings: Settings) -> str:
    if settings.python:
        return settings.python
    found = host.run('printf %s "${PROV_PYTHON:-$(command -v python3)}"', check=False)
    python = found.text().strip()
    if not found.ok or not python:
        raise ProvisioningError(
            f"cannot run {NAME} on {host.name}: no python3 found there",
            hint="install python3 on the server, or name an interpreter with "
            "[taskservs.my-service] python = '/path/to/python3'",
        )
    return python


def _require_installed(host: Host, action: str) -> str:
    version = current_version(host)
    if version is None:
        raise _not_installed(host, action)
    return version


def _not_installed(host: Host, action: str) -> ProvisioningError:
    return ProvisioningError(
        f"cannot {action} {NAME} on {host.name}: it is not installed there",
        hint=f"install it first: prov taskserv install {NAME} --server {host.name}",
    )


def _merge(*results: OperationResult) -> OperationResult:
    return OperationResult(
        changed=any(r.changed for r in results),
        actions=[action for r in results for action in r.actions],
        details=change_details(*results),
    )


def _finish(
    result: OperationResult, done: str, planned: str, unchanged: str, *, check: bool
) -> OperationResult:
    """``result`` with the message that fits: done, planned (check mode) or nothing to do."""
    message = (planned if check else done) if result.changed else (unchanged or done)
    return OperationResult(
        changed=result.changed,
        message=message,
        actions=list(result.actions),
        details=change_details(result),
    )


def _duration(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"
