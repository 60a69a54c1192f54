"""How provisioning-core's conformance suite runs against the ``my-service`` taskserv.

``Conformance`` is registered under the ``provisioning.conformance`` entry
point, so ``prov plugin test my-service`` runs it; tests/test_conformance.py
runs it with pytest.  my-service is installed for real, over SSH, into a
local sandbox (the ``local`` provider, provisioning-provider-local, must be
installed), from the payload shipped inside this plugin, on free ports;
check mode is held to changing no file and no process of the sandbox (the
core's ``LabTaskservConformance``; its release mirror serves nothing here).

This module imports pytest: the hooks never import it.
"""

from __future__ import annotations

from typing import Any

from provisioning_core.testing import LabTaskservConformance, Sandbox, free_ports

__all__ = ["Conformance"]


class Conformance(LabTaskservConformance):
    """The taskserv contract, on a local sandbox."""

    taskserv = "my-service"
    uses_releases = False  # the payload ships in the plugin

    def extra_settings(self, sandbox: Sandbox) -> dict[str, Any]:
        # never 8080/9090: another run on this machine may have a sandbox on the same address
        port, metrics_port = free_ports(2, sandbox.server.ip_addresses[0])
        return {"port": port, "metrics_port": metrics_port}
