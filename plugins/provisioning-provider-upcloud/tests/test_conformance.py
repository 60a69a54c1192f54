"""The core's provider conformance suite, against the emulator (provisioning_provider_upcloud.testing)."""

from __future__ import annotations

from provisioning_provider_upcloud.testing import Conformance


class TestConformance(Conformance):
    pass
