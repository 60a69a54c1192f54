"""provisioning-core's conformance suite for clusters, run against ``buildkit``.

The fixtures are in provisioning_cluster_buildkit/conformance.py, shared with
`prov plugin test buildkit --kind cluster`.
"""

from provisioning_cluster_buildkit.conformance import Conformance


class TestConformance(Conformance):
    pass
