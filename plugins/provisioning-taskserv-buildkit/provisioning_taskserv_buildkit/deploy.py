"""What is BuildKit's own in its :class:`~provisioning_core.runtime.ReleaseRecipe`.

The recipe (the core's) installs the release tarball into
``[install_dir]/<version>``, links ``bin/*`` into ``[bin_dir]``, renders
``[config_dir]/buildkitd.toml`` from ``templates/buildkitd.toml.j2``, runs the
service and checks its health; here are the template's context (the
containerd worker, the listeners), the service's command line, the health
check and BuildKit's directories.
"""

from __future__ import annotations

import shlex
from typing import Any

from provisioning_core import Directory, HealthCheck, Host
from provisioning_core.runtime import ReleaseRecipe, Step

from provisioning_taskserv_buildkit.settings import KINDS, Settings

__all__ = ["NAME", "RECIPE", "health_check"]

NAME = "buildkit"


def _context(host: Host, s: Settings, version: str) -> dict[str, Any]:
    addresses = [f"unix://{host.path(s.socket)}"]
    if s.tcp_port is not None:
        # sandboxes share this machine: each keeps to its own loopback address
        address = (host.address or "127.0.0.1") if host.sandbox else s.tcp_address
        address = f"[{address}]" if ":" in address else address
        addresses.append(f"tcp://{address}:{s.tcp_port}")
    return {
        "version": version,
        "root": host.path(s.data_dir),
        "debug": "true" if s.debug else "false",
        "addresses": addresses,
        "containerd_socket": host.path(s.containerd_socket),
        "namespace": s.containerd_namespace,
    }


def _command(host: Host, s: Settings, version: str) -> list[str]:
    binary = f"{RECIPE.version_dir(s, version)}/bin/buildkitd"
    return [host.path(binary), "--config", host.path(RECIPE.config_path(s))]


def health_check(host: Host, s: Settings, version: str) -> HealthCheck:
    """``buildctl debug workers`` asks the daemon over its socket for its workers."""
    buildctl = shlex.quote(host.path(f"{RECIPE.version_dir(s, version)}/bin/buildctl"))
    address = shlex.quote(f"unix://{host.path(s.socket)}")
    return HealthCheck(
        type="command",
        command=f"{buildctl} --addr {address} debug workers",
        interval=s.health_interval,
        timeout=10.0,
        retries=s.health_retries,
    )


def _dirs(s: Settings) -> list[Step]:
    return [Directory(s.data_dir, 0o711), Directory(s.state_dir, 0o711)]


def _leftovers(s: Settings) -> list[str]:
    return [s.state_dir]  # the socket goes with the service


RECIPE: ReleaseRecipe[Settings] = ReleaseRecipe(
    name=NAME,
    settings=Settings,
    kinds=KINDS,
    package=__package__ or "provisioning_taskserv_buildkit",
    config="buildkitd.toml",
    context=_context,
    command=_command,
    description="BuildKit daemon with the containerd worker (installed by provisioning)",
    restart="always",
    health=health_check,
    binaries="bin/*",  # buildkitd, buildctl and the helpers shipped beside them
    dirs=_dirs,
    leftovers=_leftovers,
    # the data dir (build cache and snapshots) goes unless the data is kept: the default
)
