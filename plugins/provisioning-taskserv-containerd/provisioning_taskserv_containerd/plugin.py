"""Taskserv ``containerd``'s hooks (entry point ``containerd`` in ``provisioning.taskservs``).

Only ``taskserv_info`` is written here.  Installing, upgrading, configuring,
restarting, removing and inspecting containerd are :data:`.deploy.RECIPE`'s
operations, exposed through the core's ``ReleaseHooks``.
"""

from __future__ import annotations

from provisioning_core import HealthCheck, TaskservInfo, hookimpl
from provisioning_core.runtime import ReleaseHooks

from provisioning_taskserv_containerd import __version__
from provisioning_taskserv_containerd.deploy import RECIPE
from provisioning_taskserv_containerd.settings import Settings


@hookimpl
def taskserv_info() -> TaskservInfo:
    s = Settings()
    return RECIPE.info(
        __version__,
        description="containerd, the industry-standard container runtime, from its GitHub "
        "release (sha256-verified), run as a service on a unix socket",
        health_check=HealthCheck(
            type="command",
            command=f"ctr --address {s.socket} version",
            interval=s.health_interval,
            timeout=10.0,
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
