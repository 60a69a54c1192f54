"""The core's provider conformance suite, against moto (provisioning_provider_aws.testing)."""

from __future__ import annotations

from provisioning_provider_aws.testing import Conformance


class TestConformance(Conformance):
    pass
