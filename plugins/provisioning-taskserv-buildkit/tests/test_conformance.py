"""provisioning-core's conformance suite for taskservs, run against ``buildkit``.

The fixtures are in provisioning_taskserv_buildkit/conformance.py, shared
with `prov plugin test buildkit --kind taskserv`.
"""

from provisioning_taskserv_buildkit.conformance import Conformance


class TestConformance(Conformance):
    pass
