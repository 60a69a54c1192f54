"""Fake upstream releases of every component, and the settings that point the taskservs at them.

The fakes are the taskservs' own (each ``provisioning_taskserv_<name>.testing``);
here they are served together, in every version some cluster version names,
by one :class:`~provisioning_core.testing.ArtifactMirror`, for this plugin's
tests and its conformance class (:mod:`.conformance`).  Nothing here imports
pytest; the hooks never import this module.
"""

from __future__ import annotations

from typing import Any

from packaging.version import Version
from provisioning_core.testing import ArtifactMirror
from provisioning_taskserv_buildkit import testing as buildkit
from provisioning_taskserv_containerd import testing as containerd
from provisioning_taskserv_registry import testing as registry

from provisioning_cluster_buildkit.plugin import VERSIONS

__all__ = ["add_releases", "component_versions", "taskserv_settings"]


def component_versions(component: str) -> tuple[str, ...]:
    """Every version of ``component`` some cluster version names, oldest first."""
    return tuple(sorted({parts[component] for parts in VERSIONS.values()}, key=Version))


def add_releases(mirror: ArtifactMirror) -> None:
    """Serve the fake releases of every component version the cluster versions name."""
    containerd.add_releases(mirror, component_versions("containerd"), prerelease=None)
    buildkit.add_releases(mirror, component_versions("buildkit"))
    registry.add_releases(mirror, component_versions("registry"), prerelease=None)


def taskserv_settings(mirror: ArtifactMirror) -> dict[str, dict[str, Any]]:
    """``[taskservs.<component>]`` for each component: the mirror, quick health checks.

    BuildKit publishes no checksums, so its table pins the digests of its fakes.
    """
    common: dict[str, Any] = {
        "api_url": mirror.api_url,
        "download_url": mirror.download_url,
        "health_interval": 0.2,
        "health_retries": 50,
    }
    return {
        "containerd": dict(common),
        "buildkit": {**common, "sha256": buildkit.pins(component_versions("buildkit"))},
        "registry": dict(common),
    }
