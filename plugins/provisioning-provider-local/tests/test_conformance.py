"""provisioning-core's conformance suite for providers, run against ``local``.

The fixtures are in provisioning_provider_local/conformance.py, shared with
`prov plugin test local`.
"""

from provisioning_provider_local.conformance import Conformance


class TestConformance(Conformance):
    pass
