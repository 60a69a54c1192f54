"""BuildKit's hooks, registered as ``buildkit`` under ``provisioning.taskservs``.

``taskserv_info`` declares what buildkitd needs (containerd>=1.6, for its
worker); every other hook comes from ``ReleaseHooks(RECIPE)``, the core's
implementation of a release-tarball taskserv, fed with :mod:`.deploy`.
"""

from __future__ import annotations

from provisioning_core import HealthCheck, TaskservInfo, hookimpl
from provisioning_core.runtime import ReleaseHooks

from provisioning_taskserv_buildkit import __version__
from provisioning_taskserv_buildkit.deploy import RECIPE
from provisioning_taskserv_buildkit.settings import Settings

#: what buildkitd needs on the same server: its containerd worker talks to containerd
DEPENDENCIES = ["containerd>=1.6"]


@hookimpl
def taskserv_info() -> TaskservInfo:
    s = Settings()
    return RECIPE.info(
        __version__,
        description="BuildKit: buildkitd with the containerd worker and buildctl, from its "
        "GitHub release (sha256 pinned in the settings), run as a service on a unix socket",
        dependencies=DEPENDENCIES,
        health_check=HealthCheck(
            type="command",
            command=f"buildctl --addr unix://{s.socket} debug workers",
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
