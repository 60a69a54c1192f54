"""Fixtures: an isolated PROV_HOME and workspace per test, a running UpCloud API emulator,
and the ``upcloud`` provider loaded through the core."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from provisioning_core import ExtensionManager, ProviderApi, ProviderAuth, ProviderSettings, Secret
from upcloud_support import PASSWORD, TOKEN, USERNAME, UpCloudHooks, workspace_toml

from provisioning_provider_upcloud import records
from provisioning_provider_upcloud.emulator import UpCloudEmulator

CLEARED = ("PROV_LOAD_PLUGINS", "PROV_DISABLE_PLUGINS", "PROV_STRICT", "PROV_CONFIG", "PROV_DEBUG")


@pytest.fixture(autouse=True)
def prov_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own PROV_HOME, config dir and working directory."""
    home = tmp_path / "prov-home"
    monkeypatch.setenv("PROV_HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for name in [*CLEARED, "UPCLOUD_TOKEN", "UPCLOUD_USERNAME", "UPCLOUD_PASSWORD"]:
        monkeypatch.delenv(name, raising=False)
    for name in [n for n in os.environ if n.startswith("PROV_") and "__" in n]:
        monkeypatch.delenv(name)
    yield home
    # what this process asked servers to do must not leak into the next test
    records._INTENT.clear()


@pytest.fixture
def emulator() -> Iterator[UpCloudEmulator]:
    with UpCloudEmulator(
        token=TOKEN, username=USERNAME, password=PASSWORD, maintenance_seconds=0.2
    ) as api:
        yield api


@pytest.fixture
def settings(emulator: UpCloudEmulator) -> ProviderSettings:
    return ProviderSettings(
        name="upcloud",
        auth=ProviderAuth(token=Secret(TOKEN)),
        api=ProviderApi(base_url=emulator.base_url, timeout=10.0),
        options={"poll_interval": 0.02, "maintenance_timeout": 10.0},
    )


@pytest.fixture
def upcloud(settings: ProviderSettings) -> UpCloudHooks:
    """The provider as the core loads it (entry point), called with ``settings``."""
    extension = ExtensionManager().load_extension("provider", "upcloud")
    return UpCloudHooks(extension, settings)


@pytest.fixture
def workspace(emulator: UpCloudEmulator, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A provisioning.toml in the cwd whose [providers.upcloud] points at the emulator,
    with the token from ${UPCLOUD_TOKEN}."""
    monkeypatch.setenv("UPCLOUD_TOKEN", TOKEN)
    path = Path.cwd() / "provisioning.toml"
    path.write_text(workspace_toml(emulator.base_url), encoding="utf-8")
    return path
