"""Helpers for testing plugins against real local peers.

:class:`ArtifactMirror` serves GitHub-shaped releases and their assets on
127.0.0.1; :func:`tarball` and :func:`sha256sums` build the release assets.
:mod:`provisioning_core.testing.lab` runs a taskserv plugin's end-to-end
tests in local sandboxes (:class:`Lab`, :func:`lab_fixtures`).  The
conformance suite (:class:`ProviderConformance`, :class:`TaskservConformance`,
:class:`ClusterConformance`) and the pytest plugin's fixtures
(:mod:`provisioning_core.testing.plugin`) need pytest; everything else works
under any test runner.

Names are imported on first use (PEP 562): importing this package costs
nothing until a helper is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from provisioning_core.testing.conformance import (
        ClusterConformance,
        LabTaskservConformance,
        ProviderConformance,
        TaskservConformance,
    )
    from provisioning_core.testing.lab import (
        Lab,
        Sandbox,
        free_port,
        free_ports,
        isolate,
        lab_fixtures,
        reap_sandboxes,
        sandbox_picture,
        sandbox_processes,
        sandbox_tree,
        toml_tables,
        toml_value,
    )
    from provisioning_core.testing.mirror import ArtifactMirror, MirrorRelease, sha256sums, tarball
    from provisioning_core.testing.plugin import ProvResult, ProvRunner, run_prov

_WHERE: dict[str, str] = {
    "ClusterConformance": "provisioning_core.testing.conformance",
    "LabTaskservConformance": "provisioning_core.testing.conformance",
    "free_port": "provisioning_core.testing.lab",
    "free_ports": "provisioning_core.testing.lab",
    "sandbox_picture": "provisioning_core.testing.lab",
    "toml_tables": "provisioning_core.testing.lab",
    "toml_value": "provisioning_core.testing.lab",
    "ProviderConformance": "provisioning_core.testing.conformance",
    "TaskservConformance": "provisioning_core.testing.conformance",
    "ProvResult": "provisioning_core.testing.plugin",
    "ProvRunner": "provisioning_core.testing.plugin",
    "run_prov": "provisioning_core.testing.plugin",
    "ArtifactMirror": "provisioning_core.testing.mirror",
    "MirrorRelease": "provisioning_core.testing.mirror",
    "sha256sums": "provisioning_core.testing.mirror",
    "tarball": "provisioning_core.testing.mirror",
    "Lab": "provisioning_core.testing.lab",
    "Sandbox": "provisioning_core.testing.lab",
    "isolate": "provisioning_core.testing.lab",
    "lab_fixtures": "provisioning_core.testing.lab",
    "reap_sandboxes": "provisioning_core.testing.lab",
    "sandbox_processes": "provisioning_core.testing.lab",
    "sandbox_tree": "provisioning_core.testing.lab",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'provisioning_core.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "ArtifactMirror",
    "ClusterConformance",
    "Lab",
    "LabTaskservConformance",
    "MirrorRelease",
    "ProvResult",
    "ProvRunner",
    "ProviderConformance",
    "Sandbox",
    "TaskservConformance",
    "free_port",
    "free_ports",
    "isolate",
    "lab_fixtures",
    "reap_sandboxes",
    "run_prov",
    "sandbox_picture",
    "sandbox_processes",
    "sandbox_tree",
    "sha256sums",
    "tarball",
    "toml_tables",
    "toml_value",
]
