"""Every test gets an isolated PROV_HOME and workspace, an ArtifactMirror playing
GitHub, and a lab creating local sandboxes, reaped whatever the test did."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from provisioning_core.testing import ArtifactMirror
from registry_lab import Lab


@pytest.fixture(autouse=True)
def prov_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own PROV_HOME and workspace; its sandboxes die with it."""
    home = tmp_path / "prov-home"
    home.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("PROV_HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.chdir(work)
    for name in [n for n in os.environ if n.startswith("PROV_") and n != "PROV_HOME"]:
        monkeypatch.delenv(name)
    yield home
    from provisioning_provider_local.testing import reap

    reap(home)


@pytest.fixture
def mirror() -> Iterator[ArtifactMirror]:
    with ArtifactMirror() as m:
        yield m


@pytest.fixture
def lab(prov_home: Path, mirror: ArtifactMirror) -> Lab:
    return Lab(prov_home, Path.cwd(), mirror)
