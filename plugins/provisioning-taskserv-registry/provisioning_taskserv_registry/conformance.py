"""How provisioning-core's conformance suite runs against the ``registry`` taskserv.

``Conformance`` is registered under the ``provisioning.conformance`` entry
point, so ``prov plugin test registry`` runs it; tests/test_conformance.py
runs it with pytest.  The registry is installed for real, over SSH, into a
local sandbox (the ``local`` provider, provisioning-provider-local, must be
installed), from fake releases (:mod:`.testing`) served on 127.0.0.1, on a
free port; check mode is held to changing no file and no process of the
sandbox and downloading nothing (the core's ``LabTaskservConformance``).

This module imports pytest: the hooks never import it.
"""

from __future__ import annotations

from typing import Any

from provisioning_core.testing import ArtifactMirror, LabTaskservConformance, Sandbox, free_port

from provisioning_taskserv_registry import testing

__all__ = ["Conformance"]


class Conformance(LabTaskservConformance):
    """The taskserv contract, on a local sandbox, from fake releases."""

    taskserv = "registry"

    def add_releases(self, mirror: ArtifactMirror) -> None:
        testing.add_releases(mirror)

    def extra_settings(self, sandbox: Sandbox) -> dict[str, Any]:
        # never 5000: another run on this machine may have a sandbox on the same address
        return {"port": free_port(sandbox.server.ip_addresses[0])}
