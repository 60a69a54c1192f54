"""Fixtures: an isolated PROV_HOME per test (every sandbox process reaped at the end)
and the ``local`` provider loaded through the core."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_support import Local, sandbox_pids
from provisioning_core import ExtensionManager, ProviderSettings

from provisioning_provider_local.testing import reap

CLEARED = ("PROV_LOAD_PLUGINS", "PROV_DISABLE_PLUGINS", "PROV_STRICT", "PROV_CONFIG", "PROV_DEBUG")

WORKSPACE = """
[providers.local.defaults]
plan = "small"
zone = "local"

[operations]
wait_interval = 0.05
"""


@pytest.fixture(autouse=True)
def prov_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own PROV_HOME, config dir and working directory; its
    sandbox processes are killed at the end, and a test that left any fails."""
    home = tmp_path / "prov-home"
    monkeypatch.setenv("PROV_HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    work = tmp_path / "work"
    work.mkdir()
    (work / "provisioning.toml").write_text(WORKSPACE, encoding="utf-8")
    monkeypatch.chdir(work)
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    for name in [n for n in os.environ if n.startswith("PROV_") and "__" in n]:
        monkeypatch.delenv(name)
    yield home
    reap(home)
    assert sandbox_pids(home) == []


@pytest.fixture
def local() -> Local:
    extension = ExtensionManager().load_extension("provider", "local")
    return Local(extension, ProviderSettings(name="local"))
