"""provisioning-core's conformance suite for taskservs, run against ``containerd``.

The fixtures are in provisioning_taskserv_containerd/conformance.py, shared
with `prov plugin test containerd`.
"""

from provisioning_taskserv_containerd.conformance import Conformance


class TestConformance(Conformance):
    pass
