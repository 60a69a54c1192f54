"""The hooks of taskserv ``registry`` (entry point ``registry`` in ``provisioning.taskservs``).

Each hook checks its settings, connects to the server over SSH and hands the
work to :mod:`provisioning_taskserv_registry.deploy`.  Arguments are the
contract's (``TaskservSpec`` in the hook reference): ``server`` and ``ssh``
say where, ``settings`` is ``[taskservs.registry]``, ``check`` asks to
change nothing and describe what would change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from provisioning_core import (
    HealthCheck,
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

from provisioning_taskserv_registry import __version__, deploy
from provisioning_taskserv_registry.settings import Settings, parse_settings

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
    parsed = parse_settings(settings or {})  # bad settings fail before any connection
    with connect(server, ssh) as host:
        return work(host, parsed)


@hookimpl
def taskserv_info() -> TaskservInfo:
    s = Settings()
    return TaskservInfo(
        name=deploy.NAME,
        version=__version__,
        description="The CNCF distribution registry, serving OCI images over HTTP on port "
        f"{s.port}, from its GitHub release (sha256-verified), run as a service",
        source=TaskservSource(
            type="github", url=f"{s.download_url}/{s.repository}", repository=s.repository
        ),
        install=TaskservInstall(
            method="archive", path=s.bin_dir, config_dir=s.config_dir, data_dir=s.data_dir
        ),
        service=ServiceSpec(name=deploy.NAME, ports=[s.port], restart="on-failure"),
        health_check=HealthCheck(
            type="http",
            endpoint="/v2/",
            port=s.port,
            interval=s.health_interval,
            timeout=5.0,
            retries=s.health_retries,
        ),
    )


@hookimpl
def install(
    server: Server, ssh: SshAccess, version: str | None, settings: dict[str, Any], check: bool
) -> OperationResult:
    return _run(server, ssh, settings, lambda h, s: deploy.install(h, version, s, check=check))


@hookimpl
def uninstall(
    server: Server, ssh: SshAccess, keep_data: bool, settings: dict[str, Any], check: bool
) -> OperationResult:
    return _run(
        server, ssh, settings, lambda h, s: deploy.uninstall(h, s, keep_data=keep_data, check=check)
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
    return _run(server, ssh, settings, lambda h, s: deploy.restart(h, s, check=check))


@hookimpl
def upgrade(
    server: Server, ssh: SshAccess, version: str, settings: dict[str, Any], check: bool
) -> OperationResult:
    return _run(server, ssh, settings, lambda h, s: deploy.upgrade(h, version, s, check=check))


@hookimpl
def get_current_version(server: Server, ssh: SshAccess, settings: dict[str, Any]) -> str | None:
    return _run(server, ssh, settings, deploy.current_version)


@hookimpl
def get_available_versions(settings: dict[str, Any]) -> list[TaskservVersion]:
    return deploy.available_versions(parse_settings(settings or {}))


@hookimpl
def check_updates(server: Server, ssh: SshAccess, settings: dict[str, Any]) -> UpdateInfo:
    return _run(server, ssh, settings, deploy.check_updates)
