"""Hook implementations of the ``registry`` taskserv (the CNCF distribution registry).

The module is what entry point ``registry`` names.  Its info hook is below;
the nine operational hooks are the core's, bound to this taskserv's recipe
(:data:`.deploy.RECIPE`: template context, ``registry serve`` command, HTTP check).
"""

from __future__ import annotations

from provisioning_core import HealthCheck, TaskservInfo, hookimpl
from provisioning_core.runtime import ReleaseHooks

from provisioning_taskserv_registry import __version__
from provisioning_taskserv_registry.deploy import RECIPE
from provisioning_taskserv_registry.settings import Settings


@hookimpl
def taskserv_info() -> TaskservInfo:
    s = Settings()
    return RECIPE.info(
        __version__,
        description="The CNCF distribution registry, serving OCI images over HTTP on port "
        f"{s.port}, from its GitHub release (sha256-verified), run as a service",
        ports=[s.port],
        health_check=HealthCheck(
            type="http",
            endpoint="/v2/",
            port=s.port,
            interval=s.health_interval,
            timeout=5.0,
            retries=s.health_retries,
        ),
    )


HOOKS = ReleaseHooks(RECIPE)
install = HOOKS.install
uninstall = HOOKS.uninstall
configure = HOOKS.configure
status = HOOKS.status
restart = HOOKS.restart
upgrade = HOOKS.upgrade
get_current_version = HOOKS.get_current_version
get_available_versions = HOOKS.get_available_versions
check_updates = HOOKS.check_updates
