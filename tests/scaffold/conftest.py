"""What the scaffold tests share: the files every kind generates, and a way to
make a generated plugin installed without touching the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioning_core.scaffold import plugin_names
from provisioning_core.testing import run_prov
from tests.conftest import pip_install

KINDS = ("provider", "taskserv", "cluster")


def expected_files(kind: str, name: str) -> set[str]:
    names = plugin_names(kind, name)
    module = names["module"]
    return {
        "pyproject.toml",
        "README.md",
        "CHANGELOG.md",
        ".gitignore",
        f"{module}/__init__.py",
        f"{module}/plugin.py",
        f"{module}/backend.py",
        f"{module}/testing.py",
        f"{module}/py.typed",
        "tests/test_conformance.py",
        f"tests/test_{names['ident']}.py",
    }


def generate(kind: str, name: str, where: Path) -> Path:
    """``prov plugin new KIND NAME --dir WHERE`` through the real CLI; the project path."""
    result = run_prov("plugin", "new", kind, name, "--dir", str(where), "-o", "json")
    assert result.exit_code == 0, result.output
    return Path(result.json()["path"])


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``install(project)``: pip-installs a generated project into a site dir on sys.path."""
    site = tmp_path / "site"

    def run(*projects: Path) -> Path:
        pip_install(site, *projects)
        monkeypatch.syspath_prepend(str(site))
        return site

    return run
