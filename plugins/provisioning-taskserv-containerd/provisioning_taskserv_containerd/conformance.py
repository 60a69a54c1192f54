"""How provisioning-core's conformance suite runs against the ``containerd`` taskserv.

``Conformance`` is registered under the ``provisioning.conformance`` entry
point, so ``prov plugin test containerd`` runs it; tests/test_conformance.py
runs it with pytest.  containerd is installed for real, over SSH, into a
local sandbox (the ``local`` provider, provisioning-provider-local, must be
installed), from fake releases (:mod:`.testing`) served on 127.0.0.1; check
mode is held to changing no file and no process of the sandbox and
downloading nothing (the core's ``LabTaskservConformance``).

This module imports pytest: the hooks never import it.
"""

from __future__ import annotations

from provisioning_core.testing import ArtifactMirror, LabTaskservConformance

from provisioning_taskserv_containerd import testing

__all__ = ["Conformance"]


class Conformance(LabTaskservConformance):
    """The taskserv contract, on a local sandbox, from fake releases."""

    taskserv = "containerd"

    def add_releases(self, mirror: ArtifactMirror) -> None:
        testing.add_releases(mirror)
