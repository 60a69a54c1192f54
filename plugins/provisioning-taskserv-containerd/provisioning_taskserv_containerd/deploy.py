"""What is containerd's own in its :class:`~provisioning_core.runtime.ReleaseRecipe`.

The recipe (the core's) installs the release tarball into
``[install_dir]/<version>``, links ``bin/*`` into ``[bin_dir]``, renders
``[config_dir]/config.toml`` from ``templates/config.toml.j2``, runs the
service and checks its health; here are the template's context, the service's
command line, the health check and containerd's directories.
"""

from __future__ import annotations

import shlex
from typing import Any

from packaging.version import InvalidVersion, Version
from provisioning_core import Directory, HealthCheck, Host
from provisioning_core.runtime import ReleaseRecipe, Step

from provisioning_taskserv_containerd.settings import KINDS, Settings

__all__ = ["NAME", "RECIPE", "health_check"]

NAME = "containerd"


def _context(host: Host, s: Settings, version: str) -> dict[str, Any]:
    metrics = ""
    if s.metrics_port is not None:
        # sandboxes share this machine: each keeps to its own loopback address
        address = (host.address or "127.0.0.1") if host.sandbox else s.metrics_address
        metrics = f"{address}:{s.metrics_port}"
    return {
        # containerd 2 reads config version 3; 1.x reads version 2
        "config_version": 3 if _major(version) >= 2 else 2,  # noqa: PLR2004
        "root": host.path(s.data_dir),
        "state": host.path(s.state_dir),
        "socket": host.path(s.socket),
        "log_level": s.log_level,
        "metrics_address": metrics,
    }


def _command(host: Host, s: Settings, version: str) -> list[str]:
    binary = f"{RECIPE.version_dir(s, version)}/bin/containerd"
    return [host.path(binary), "--config", host.path(RECIPE.config_path(s))]


def health_check(host: Host, s: Settings, version: str) -> HealthCheck:
    """``ctr version`` reaches the daemon over its socket (it fails when it cannot)."""
    ctr = shlex.quote(host.path(f"{RECIPE.version_dir(s, version)}/bin/ctr"))
    socket = shlex.quote(host.path(s.socket))
    return HealthCheck(
        type="command",
        command=f"{ctr} --address {socket} version",
        interval=s.health_interval,
        timeout=10.0,
        retries=s.health_retries,
    )


def _major(version: str) -> int:
    try:
        return Version(version).major
    except InvalidVersion:
        return 0


def _dirs(s: Settings) -> list[Step]:
    return [Directory(s.data_dir, 0o711), Directory(s.state_dir, 0o711)]


def _leftovers(s: Settings) -> list[str]:
    return [s.state_dir]  # the socket and run state go with the service


RECIPE: ReleaseRecipe[Settings] = ReleaseRecipe(
    name=NAME,
    settings=Settings,
    kinds=KINDS,
    package=__package__ or "provisioning_taskserv_containerd",
    config="config.toml",
    context=_context,
    command=_command,
    description="containerd container runtime (installed by provisioning)",
    restart="always",  # as containerd's own unit: the runtime of every container
    health=health_check,
    binaries="bin/*",  # containerd, ctr, containerd-shim-runc-v2, containerd-stress
    dirs=_dirs,
    leftovers=_leftovers,
)
