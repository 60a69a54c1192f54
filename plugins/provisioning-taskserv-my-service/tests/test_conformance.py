"""provisioning-core's conformance suite for taskservs, run against ``my-service``.

The fixtures are in provisioning_taskserv_my_service/conformance.py, shared
with `prov plugin test my-service`.
"""

from provisioning_taskserv_my_service.conformance import Conformance


class TestConformance(Conformance):
    pass
