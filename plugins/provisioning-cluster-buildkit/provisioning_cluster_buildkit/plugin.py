"""Hooks of the ``buildkit`` cluster.

It only describes the cluster; the core's cluster engine deploys it: the
taskservs ``containerd`` and then ``buildkit`` on each builder (the first
``builders`` servers of the cluster, all of them by default), and ``registry``
on the first server, in parallel with containerd.  Cluster versions pin the
three together (``prov cluster upgrade NAME --version 1.1``).

``[clusters.NAME]`` keys read here:

``version``
    the cluster version to deploy (default: the newest in ``VERSIONS``).
``settings.builders``
    how many servers run containerd and buildkit (default: all of them).
``settings.<component>``
    a table of settings for that component's taskserv, on top of
    ``[taskservs.<component>]`` (e.g. ``settings.registry.port = 5001``).
"""

from __future__ import annotations

from typing import Any

from provisioning_core import ClusterConfig, ClusterInfo, Component, ConfigError, hookimpl

NAME = "buildkit"
VERSION = "0.1.0"

#: cluster version -> the component versions it is made of, oldest first
VERSIONS: dict[str, dict[str, str]] = {
    "1.0": {"containerd": "1.7.13", "buildkit": "0.12.5", "registry": "2.8.3"},
    "1.1": {"containerd": "1.7.20", "buildkit": "0.13.2", "registry": "2.8.3"},
}
LATEST = list(VERSIONS)[-1]

_DEPENDS = {"containerd": [], "buildkit": ["containerd"], "registry": []}


def _components(version: str, builders: int, settings: dict[str, Any]) -> list[Component]:
    replicas = {"containerd": builders, "buildkit": builders, "registry": 1}
    return [
        Component(
            name,
            version=VERSIONS[version][name],
            depends_on=list(deps),
            replicas=replicas[name],
            settings=dict(settings.get(name) or {}),
        )
        for name, deps in _DEPENDS.items()
    ]


@hookimpl
def cluster_info() -> ClusterInfo:
    """The components of the newest cluster version, one builder, and every version."""
    return ClusterInfo(
        NAME,
        VERSION,
        "BuildKit builders on containerd, with a registry for their images",
        components=_components(LATEST, 1, {}),
        versions={v: dict(parts) for v, parts in VERSIONS.items()},
    )


@hookimpl
def list_components(config: ClusterConfig) -> list[Component]:
    """The components as ``config`` asks: its version, its number of builders."""
    version = config.version or LATEST
    problems = []
    if version not in VERSIONS:
        problems.append(
            f"unknown cluster version {version!r}; allowed: {', '.join(VERSIONS)} "
            f"@ $.clusters.{config.name}.version"
        )
    builders = config.settings.get("builders", len(config.servers) or 1)
    if not isinstance(builders, int) or isinstance(builders, bool) or builders < 1:
        problems.append(
            f"builders must be a whole number, 1 or more, got {builders!r} "
            f"@ $.clusters.{config.name}.settings.builders"
        )
    problems += [
        f"expected a table of {name} settings @ $.clusters.{config.name}.settings.{name}"
        for name in _DEPENDS
        if not isinstance(config.settings.get(name, {}), dict)
    ]
    if problems:
        raise ConfigError(f"invalid buildkit cluster {config.name!r}", problems=problems)
    return _components(version, builders, config.settings)
