"""Doing things ON a server: transports, hosts, idempotent steps, services, health.

A taskserv connects to a server (:func:`connect`), describes what it should
look like as a list of steps, and applies them (:func:`apply_steps`), in
check mode or for real.  See docs/runtime.md.

Names are imported on first use, so importing this package is cheap; asyncssh
and Jinja2 are imported only when an SSH connection opens or a template renders.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from provisioning_core.runtime.artifacts import (
        ReleaseAsset,
        latest_version,
        link_binaries,
        parse_checksums,
        release_asset,
        unlink_binaries,
        unpack_steps,
    )
    from provisioning_core.runtime.health import HealthResult, check_health
    from provisioning_core.runtime.host import Host, connect
    from provisioning_core.runtime.recipe import (
        ReleaseHooks,
        ReleaseRecipe,
        ReleaseSettings,
        SettingKind,
        parse_release_settings,
    )
    from provisioning_core.runtime.releases import github_versions
    from provisioning_core.runtime.services import (
        ServiceDefinition,
        ServiceManager,
        ServiceState,
        Supervisor,
        Systemd,
        remove_service,
    )
    from provisioning_core.runtime.steps import (
        Absent,
        Change,
        Command,
        Directory,
        Download,
        Extract,
        File,
        Service,
        Step,
        apply_steps,
        change_details,
        download_cache,
    )
    from provisioning_core.runtime.transport import (
        CommandError,
        CommandResult,
        LocalTransport,
        SshTransport,
        Transport,
    )

_WHERE: dict[str, str] = {
    "ReleaseAsset": "artifacts",
    "latest_version": "artifacts",
    "link_binaries": "artifacts",
    "parse_checksums": "artifacts",
    "release_asset": "artifacts",
    "unlink_binaries": "artifacts",
    "unpack_steps": "artifacts",
    "Absent": "steps",
    "Change": "steps",
    "Command": "steps",
    "CommandError": "transport",
    "CommandResult": "transport",
    "Directory": "steps",
    "Download": "steps",
    "Extract": "steps",
    "File": "steps",
    "HealthResult": "health",
    "Host": "host",
    "LocalTransport": "transport",
    "Service": "steps",
    "ServiceDefinition": "services",
    "ServiceManager": "services",
    "ServiceState": "services",
    "SshTransport": "transport",
    "Step": "steps",
    "Supervisor": "services",
    "Systemd": "services",
    "remove_service": "services",
    "Transport": "transport",
    "apply_steps": "steps",
    "change_details": "steps",
    "check_health": "health",
    "connect": "host",
    "download_cache": "steps",
    "github_versions": "releases",
    "ReleaseHooks": "recipe",
    "ReleaseRecipe": "recipe",
    "ReleaseSettings": "recipe",
    "SettingKind": "recipe",
    "parse_release_settings": "recipe",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'provisioning_core.runtime' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"provisioning_core.runtime.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "Absent",
    "Change",
    "Command",
    "CommandError",
    "CommandResult",
    "Directory",
    "Download",
    "Extract",
    "File",
    "HealthResult",
    "Host",
    "LocalTransport",
    "ReleaseAsset",
    "ReleaseHooks",
    "ReleaseRecipe",
    "ReleaseSettings",
    "Service",
    "ServiceDefinition",
    "ServiceManager",
    "ServiceState",
    "SettingKind",
    "SshTransport",
    "Step",
    "Supervisor",
    "Systemd",
    "Transport",
    "apply_steps",
    "change_details",
    "check_health",
    "connect",
    "download_cache",
    "github_versions",
    "latest_version",
    "link_binaries",
    "parse_checksums",
    "parse_release_settings",
    "release_asset",
    "remove_service",
    "unlink_binaries",
    "unpack_steps",
]
