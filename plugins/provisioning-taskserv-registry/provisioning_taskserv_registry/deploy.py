"""What is the registry's own in its :class:`~provisioning_core.runtime.ReleaseRecipe`.

The recipe (the core's) installs the release tarball into
``[install_dir]/<version>``, links the ``registry`` binary into ``[bin_dir]``,
renders ``[config_dir]/config.yml`` from ``templates/config.yml.j2``, runs the
service and checks its health; here are the template's context, the service's
command line, the HTTP health check and where it listens.
"""

from __future__ import annotations

from typing import Any

from provisioning_core import Directory, HealthCheck, Host
from provisioning_core.runtime import ReleaseRecipe, Step

from provisioning_taskserv_registry.settings import KINDS, Settings

__all__ = ["NAME", "RECIPE", "health_check"]

NAME = "registry"
_WILDCARDS = {"0.0.0.0", "::", ""}  # noqa: S104 - the listen addresses meaning "all"


def _listen(host: Host, s: Settings) -> str:
    if host.sandbox:
        # sandboxes share this machine: each keeps to its own loopback address
        return host.address or "127.0.0.1"
    return s.address


def _context(host: Host, s: Settings, version: str) -> dict[str, Any]:
    listen = _listen(host, s)
    return {
        "addr": f"[{listen}]:{s.port}" if ":" in listen else f"{listen}:{s.port}",
        "rootdirectory": host.path(s.data_dir),
        "log_level": s.log_level,
        "delete_enabled": "true" if s.delete_enabled else "false",
        "version": version,
    }


def _command(host: Host, s: Settings, version: str) -> list[str]:
    binary = f"{RECIPE.version_dir(s, version)}/registry"
    return [host.path(binary), "serve", host.path(RECIPE.config_path(s))]


def _working_dir(host: Host, s: Settings) -> str:
    return host.path(s.data_dir)


def health_check(host: Host, s: Settings, version: str) -> HealthCheck:  # noqa: ARG001 - uniform
    """``GET /v2/`` answers 200: the registry's API base, what clients probe first."""
    return HealthCheck(
        type="http",
        endpoint="/v2/",
        port=s.port,
        interval=s.health_interval,
        timeout=5.0,
        retries=s.health_retries,
    )


def _health_address(host: Host, s: Settings) -> str | None:
    listen = _listen(host, s)
    return None if listen in _WILDCARDS else listen  # None: the server's address


def _dirs(s: Settings) -> list[Step]:
    return [Directory(s.data_dir, 0o750)]


RECIPE: ReleaseRecipe[Settings] = ReleaseRecipe(
    name=NAME,
    settings=Settings,
    kinds=KINDS,
    package=__package__ or "provisioning_taskserv_registry",
    config="config.yml",
    context=_context,
    command=_command,
    working_dir=_working_dir,
    description="CNCF distribution registry (installed by provisioning)",
    restart="on-failure",
    health=health_check,
    health_address=_health_address,
    binaries="registry",  # the tarball holds the binary, LICENSE and README.md at its top
    dirs=_dirs,
)
