"""How provisioning-core's conformance suite runs against the ``buildkit`` taskserv.

``Conformance`` is registered under the ``provisioning.conformance`` entry
point, so ``prov plugin test buildkit --kind taskserv`` runs it;
tests/test_conformance.py runs it with pytest.  BuildKit is installed for
real, over SSH, into a local sandbox that already runs containerd (the
``local`` provider, provisioning-provider-local, and the containerd taskserv
must be installed), from fake releases served on 127.0.0.1 whose digests
the settings pin; check mode is held to changing no file and no process of
the sandbox and downloading nothing (the core's ``LabTaskservConformance``).

This module imports pytest: the hooks never import it.
"""

from __future__ import annotations

from typing import Any

import pytest
from provisioning_core.testing import ArtifactMirror, Lab, LabTaskservConformance, Sandbox
from provisioning_taskserv_containerd import testing as containerd_testing

from provisioning_taskserv_buildkit import testing

__all__ = ["Conformance"]


class Conformance(LabTaskservConformance):
    """The taskserv contract, on a local sandbox running containerd, from fake releases."""

    taskserv = "buildkit"

    def add_releases(self, mirror: ArtifactMirror) -> None:
        testing.add_releases(mirror)
        containerd_testing.add_releases(mirror)

    def extra_settings(self, sandbox: Sandbox) -> dict[str, Any]:  # noqa: ARG002
        return {"sha256": testing.pins()}  # BuildKit publishes no checksums

    @pytest.fixture
    def conformance_sandbox(self, conformance_lab: Lab) -> Sandbox:
        """A running local server with containerd, which buildkit declares it needs."""
        sandbox = conformance_lab.create("conformance-1")
        conformance_lab.use("containerd")
        installed = conformance_lab.run("install", "containerd", sandbox)
        if not installed.ok:
            pytest.fail(f"could not install containerd, which buildkit needs: {installed}")
        return sandbox
