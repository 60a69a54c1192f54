"""Shared fixtures: an isolated PROV_HOME for every test, and the fixture
plugins of tests/fixtures/dists built and pip-installed as real distributions
into a temporary site directory once per session."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
DISTS = FIXTURES / "dists"
DIRS = FIXTURES / "dirs"
ENV_VARS = (
    "PROV_LOAD_PLUGINS",
    "PROV_DISABLE_PLUGINS",
    "PROV_STRICT",
    "PROV_NO_SCAN_CACHE",
    "PROV_CONFIG",
    "PROV_DEBUG",
)


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
    """Every test gets its own PROV_HOME, user config directory and working
    directory, and no PROV_* settings from the caller's environment."""
    home = tmp_path / "prov-home"
    monkeypatch.setenv("PROV_HOME", str(home))
    # the user's config file and a workspace provisioning.toml are looked up here
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    for name in [n for n in os.environ if n.startswith("PROV_") and "__" in n]:
        monkeypatch.delenv(name)  # configuration settings given as PROV_A__B
    from provisioning_core import paths

    # a cache_dir a `prov` run in process configured belongs to that test alone
    monkeypatch.setattr(paths, "_cache_dir", None)
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
