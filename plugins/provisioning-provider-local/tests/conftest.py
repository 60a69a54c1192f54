"""Fixtures: the core's isolated PROV_HOME for every test, with this workspace's
provisioning.toml; sandbox processes reaped at the end (a test that left any
fails), and the ``local`` provider loaded through the core."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from local_support import Local, sandbox_pids
from provisioning_core import ExtensionManager, ProviderSettings

from provisioning_provider_local.testing import reap

WORKSPACE = """
[providers.local.defaults]
plan = "small"
zone = "local"

[operations]
wait_interval = 0.05
"""


@pytest.fixture(autouse=True)
def prov_home(prov_home: Path, prov_workspace: Path) -> Iterator[Path]:
    """The core's ``prov_home`` (own PROV_HOME, config dir and working directory),
    for every test; its sandbox processes are killed at the end, and a test that
    left any fails."""
    (prov_workspace / "provisioning.toml").write_text(WORKSPACE, encoding="utf-8")
    yield prov_home
    reap(prov_home)
    assert sandbox_pids(prov_home) == []


@pytest.fixture
def local() -> Local:
    extension = ExtensionManager().load_extension("provider", "local")
    return Local(extension, ProviderSettings(name="local"))
