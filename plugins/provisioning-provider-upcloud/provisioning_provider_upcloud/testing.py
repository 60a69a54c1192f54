"""The ``upcloud`` provider's conformance environment: the core's suite against the emulator.

``prov plugin test upcloud`` runs :class:`Conformance`; the plugin's own tests
run it as ``class TestConformance(Conformance): pass``.  Each test gets a
fresh :class:`~provisioning_provider_upcloud.emulator.UpCloudEmulator` with
short maintenance, the provider settings point at it with token auth, and
``backend_writes`` counts the mutating requests it received, so check mode
is proven to send none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from provisioning_core import ProviderApi, ProviderAuth, ProviderSettings, Secret
from provisioning_core.testing import ProviderConformance

from provisioning_provider_upcloud.emulator import DEFAULT_TOKEN, UpCloudEmulator

__all__ = ["Conformance"]


class Conformance(ProviderConformance):
    """The core's provider conformance suite, run against a local UpCloud API emulator."""

    provider = "upcloud"
    timeout = 30.0
    plan = "1xCPU-1GB"
    zone = "fi-hel1"
    os = "ubuntu-24.04"

    @pytest.fixture
    def upcloud_emulator(self) -> Iterator[UpCloudEmulator]:
        with UpCloudEmulator(maintenance_seconds=0.1) as emulator:
            yield emulator

    @pytest.fixture
    def provider_settings(self, upcloud_emulator: UpCloudEmulator) -> ProviderSettings:
        return ProviderSettings(
            name="upcloud",
            auth=ProviderAuth(token=Secret(DEFAULT_TOKEN)),
            api=ProviderApi(base_url=upcloud_emulator.base_url, timeout=10.0),
            options={"poll_interval": 0.02, "maintenance_timeout": 10.0},
        )

    @pytest.fixture
    def backend_writes(self, upcloud_emulator: UpCloudEmulator) -> Callable[[], int]:
        return lambda: upcloud_emulator.writes
