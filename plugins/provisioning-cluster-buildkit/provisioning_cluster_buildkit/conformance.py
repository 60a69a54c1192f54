"""How provisioning-core's conformance suite runs against the ``buildkit`` cluster.

``Conformance`` is registered under the ``provisioning.conformance`` entry
point, so ``prov plugin test buildkit --kind cluster`` runs it;
tests/test_conformance.py runs it with pytest.  The cluster is deployed for
real by ``prov cluster`` onto two local sandboxes the fixtures create (the
``local`` provider, provisioning-provider-local, must be installed), its
taskservs pointed at a mirror of their fake releases (:mod:`.testing`).
Check mode is held to changing no file and no process of either sandbox, and
downloading nothing into the controller's cache.

This module imports pytest: the hooks never import it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from provisioning_core import ClusterConfig
from provisioning_core.testing import (
    ArtifactMirror,
    ClusterConformance,
    Lab,
    Sandbox,
    free_port,
    sandbox_picture,
    toml_tables,
)

from provisioning_cluster_buildkit import testing

__all__ = ["Conformance"]

HOSTNAMES = ("build-1", "build-2")


class Conformance(ClusterConformance):
    """The cluster contract, deployed on two local sandboxes from fake releases."""

    cluster = "buildkit"
    # two builders deploy in seconds; minutes mean something is wrong
    timeout = 120.0

    @pytest.fixture
    def conformance_mirror(self) -> Iterator[ArtifactMirror]:
        """GitHub's stand-in, serving every component version the cluster versions name."""
        with ArtifactMirror() as mirror:
            testing.add_releases(mirror)
            yield mirror

    @pytest.fixture
    def conformance_sandboxes(
        self, prov_home: Path, prov_workspace: Path, conformance_mirror: ArtifactMirror
    ) -> list[Sandbox]:
        """Two running local servers (reaped with ``prov_home`` when the test ends)."""
        lab = Lab(prov_home, prov_workspace, conformance_mirror)
        return [lab.create(hostname) for hostname in HOSTNAMES]

    @pytest.fixture
    def cluster_config(self, conformance_sandboxes: list[Sandbox]) -> ClusterConfig:
        return ClusterConfig(
            name="conformance", servers=[box.hostname for box in conformance_sandboxes]
        )

    @pytest.fixture
    def workspace_toml(
        self, conformance_mirror: ArtifactMirror, conformance_sandboxes: list[Sandbox]
    ) -> str:
        tables = {
            f"taskservs.{name}": table
            for name, table in testing.taskserv_settings(conformance_mirror).items()
        }
        # the registry runs on the first server: never on 5000, which another run on
        # this machine may hold on the same 127.0.0.N
        tables["taskservs.registry"]["port"] = free_port(
            conformance_sandboxes[0].server.ip_addresses[0]
        )
        tables["operations"] = {"wait_interval": 0.2, "wait_timeout": 60}
        return toml_tables(tables)

    @pytest.fixture
    def backend_snapshot(
        self, conformance_sandboxes: list[Sandbox], prov_home: Path
    ) -> Callable[[], dict[str, Any]]:
        return sandbox_picture(conformance_sandboxes, prov_home)
