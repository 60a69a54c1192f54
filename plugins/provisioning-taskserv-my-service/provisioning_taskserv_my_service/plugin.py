"""The hooks of taskserv ``my-service`` (entry point ``my-service`` in ``provisioning.taskservs``).

Each hook checks its settings, connects to the server over SSH and hands the
work to :mod:`provisioning_taskserv_my_service.deploy`.  Arguments are the
contract's (see ``TaskservSpec`` in the hook reference): ``server`` and
``ssh`` say where, ``settings`` is ``[taskservs.my-service]``, ``check`` asks
to change nothing and describe what would change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from provisioning_core import (
    Host,
    OperationResult,
    Server,
    ServiceSpec,
    SshAccess,
    TaskservInfo,
    TaskservInstall,
    TaskservSource,
    TaskservStatus,
    TaskservVersion,
    UpdateInfo,
    connect,
    hookimpl,
)

from provisioning_taskserv_my_service import deploy, payload
from provisioning_taskserv_my_service.settings import Settings, parse_settings

__all__ = [
    "check_updates",
    "configure",
    "get_available_versions",
    "get_current_version",
    "install",
    "restart",
    "status",
    "taskserv_info",
    "uninstall",
    "upgrade",
]

T = TypeVar("T")


def _run(
    server: Server, ssh: SshAccess, settings: dict[str, Any], work: Callable[[Host, Settings], T]
) -> T:
    parsed = parse_settings(settings)  # bad settings fail before any connection
    with connect(server, ssh) as host:
        return work(host, parsed)


@hookimpl
def taskserv_info() -> TaskservInfo:
    defaults = Settings()
    return TaskservInfo(
        name=deploy.NAME,
        version=payload.latest(),
        description="A small HTTP service with a JSON API on 8080 and Prometheus metrics "
        "on 9090, shipped inside the plugin (the provisioning example taskserv)",
        source=TaskservSource(type="bundled"),
        install=TaskservInstall(
            method="bundled",
            path="/usr/local/bin",
            config_dir=deploy.CONFIG_DIR,
            data_dir=deploy.DATA_DIR,
        ),
        service=ServiceSpec(
            name=deploy.NAME, ports=[defaults.port, defaults.metrics_port], restart="on-failure"
        ),
        health_check=deploy.health_check(defaults.port),
    )


@hookimpl
def install(
    server: Server, ssh: SshAccess, version: str | None, settings: dict[str, Any], check: bool
) -> OperationResult:
    if version is not None:
        payload.require(version)  # an unknown version fails before any connection
    return _run(server, ssh, settings, lambda h, s: deploy.install(h, version, s, check=check))


@hookimpl
def uninstall(
    server: Server,
    ssh: SshAccess,
    keep_data: bool,
    force: bool,
    settings: dict[str, Any],
    check: bool,
) -> OperationResult:
    return _run(
        server,
        ssh,
        settings,
        lambda h, _: deploy.uninstall(h, keep_data=keep_data, check=check, force=bool(force)),
    )


@hookimpl
def configure(
    server: Server, ssh: SshAccess, settings: dict[str, Any], check: bool
) -> OperationResult:
    return _run(server, ssh, settings, lambda h, s: deploy.configure(h, s, check=check))


@hookimpl
def status(server: Server, ssh: SshAccess, settings: dict[str, Any]) -> TaskservStatus:
    return _run(server, ssh, settings, deploy.status)


@hookimpl
def restart(
    server: Server, ssh: SshAccess, settings: dict[str, Any], check: bool
) -> OperationResult:
    return _run(server, ssh, settings, lambda h, _: deploy.restart(h, check=check))


@hookimpl
def upgrade(
    server: Server, ssh: SshAccess, version: str, settings: dict[str, Any], check: bool
) -> OperationResult:
    payload.require(version)
    return _run(server, ssh, settings, lambda h, s: deploy.upgrade(h, version, s, check=check))


@hookimpl
def get_current_version(server: Server, ssh: SshAccess, settings: dict[str, Any]) -> str | None:
    return _run(server, ssh, settings, lambda h, _: deploy.current_version(h))


@hookimpl
def get_available_versions() -> list[TaskservVersion]:
    return payload.available()


@hookimpl
def check_updates(server: Server, ssh: SshAccess, settings: dict[str, Any]) -> UpdateInfo:
    current = get_current_version(server, ssh, settings)
    latest = payload.latest()
    if current is None:
        return UpdateInfo(
            current=None, latest=latest, update_available=False, message="not installed"
        )
    newer = current in payload.versions() and payload.versions().index(current) > 0
    message = f"{latest} is available (installed: {current})" if newer else "up to date"
    if current not in payload.versions():
        message = f"installed {current} is not a version this plugin ships"
    return UpdateInfo(current=current, latest=latest, update_available=newer, message=message)
