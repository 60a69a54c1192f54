"""Shared fixtures: an isolated PROV_HOME for every test, and the fixture
plugins of tests/fixtures/dists built and pip-installed as real distributions
into a temporary site directory once per session."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
DISTS = FIXTURES / "dists"
DIRS = FIXTURES / "dirs"
ENV_VARS = ("PROV_LOAD_PLUGINS", "PROV_DISABLE_PLUGINS", "PROV_STRICT", "PROV_NO_SCAN_CACHE")


def pip_install(target: Path, *projects: Path) -> None:
    """Build and install ``projects`` into ``target`` with pip, as a user would."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "--target",
            str(target),
            *map(str, projects),
        ],
        check=True,
    )


@pytest.fixture(autouse=True)
def prov_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own PROV_HOME and no plugin filters from the caller."""
    home = tmp_path / "prov-home"
    monkeypatch.setenv("PROV_HOME", str(home))
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site directory holding every fixture distribution, pip-installed."""
    site = tmp_path_factory.mktemp("site")
    pip_install(site, *sorted(p for p in DISTS.iterdir() if p.is_dir()))
    return site


@pytest.fixture
def installed(plugin_site: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fixture distributions on sys.path, as if pip-installed into the environment."""
    monkeypatch.syspath_prepend(str(plugin_site))
    return plugin_site
