"""Fixtures: the core's PROV_HOME and workspace for every test and ``prov`` in
process (provisioning-core's pytest plugin), a mirror of fake upstream releases,
and local servers to deploy the cluster on.

Every sandbox process is reaped when a test ends (by the core's ``prov_home``),
whatever it did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from provisioning_core.testing import ArtifactMirror, ProvRunner, toml_tables

from provisioning_cluster_buildkit import testing


@pytest.fixture(autouse=True)
def prov_home(prov_home: Path) -> Path:
    """The core's ``prov_home`` (which reaps the sandboxes at teardown), for every test."""
    return prov_home


@pytest.fixture
def mirror() -> Iterator[ArtifactMirror]:
    """The fake releases of every component version the cluster versions name."""
    with ArtifactMirror() as served:
        testing.add_releases(served)
        yield served


@pytest.fixture
def workspace(mirror: ArtifactMirror) -> Callable[..., Path]:
    """``workspace(cluster={...}, buildkit={...})`` writes provisioning.toml: the taskservs
    pointed at the mirror, quick waits, and ``[clusters.ci]``."""

    def write(cluster: dict[str, Any] | None = None, **taskservs: dict[str, Any]) -> Path:
        tables: dict[str, dict[str, Any]] = {
            "operations": {"wait_interval": 0.2, "wait_timeout": 60},
            "providers.local.defaults": {"plan": "small", "zone": "local"},
        }
        for name, table in testing.taskserv_settings(mirror).items():
            tables[f"taskservs.{name}"] = {**table, **taskservs.get(name, {})}
        tables["clusters.ci"] = {
            "type": "buildkit",
            "servers": ["build-1", "build-2"],
            **(cluster or {}),
        }
        path = Path.cwd() / "provisioning.toml"
        path.write_text(toml_tables(tables), encoding="utf-8")
        return path

    return write


@pytest.fixture
def servers(prov: ProvRunner, workspace: Callable[..., Path]) -> list[str]:
    """Two local servers, build-1 and build-2, running."""
    workspace()
    created = prov("server", "create", "build", "--count", "2", "-p", "local", "--wait")
    assert created.exit_code == 0, created.output
    return ["build-1", "build-2"]
