"""provisioning-core's conformance suite for taskservs, run against ``registry``.

The fixtures are in provisioning_taskserv_registry/conformance.py, shared
with `prov plugin test registry`.
"""

from provisioning_taskserv_registry.conformance import Conformance


class TestConformance(Conformance):
    pass
