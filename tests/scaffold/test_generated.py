"""A generated plugin works at once: discovered, loadable, and its own tests pass.

Each kind is generated, pip-installed into a site directory (no environment
is touched) and its tests, the conformance suite included, run with pytest
in a subprocess, as its author would run them.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from provisioning_core import ExtensionManager
from provisioning_core.testing import run_prov

from .conftest import KINDS, generate


def _env(site) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROV_", "PYTEST_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


@pytest.mark.parametrize("kind", KINDS)
def test_a_generated_plugin_is_discovered_and_its_tests_pass(tmp_path, install, kind):
    path = generate(kind, "fresh", tmp_path / "plugins")
    site = install(path)

    listed = run_prov("plugin", "list", "--kind", kind, "-o", "json")
    assert listed.exit_code == 0, listed.output
    rows = [r for r in listed.json()["plugins"] if r["name"] == "fresh"]
    assert [(r["status"], r["distribution"], r["warnings"]) for r in rows] == [
        ("ok", f"provisioning-{kind}-fresh", [])
    ]
    assert run_prov("plugin", "validate", "fresh", "--kind", kind).exit_code == 0

    # strict: a warning (a hook without @hookimpl, no core requirement) would refuse it
    extension = ExtensionManager(strict=True).load_extension(kind, "fresh")
    assert not extension.unsupported or kind != "taskserv"  # a taskserv implements every hook

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v"],
        cwd=path,
        env=_env(site),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    # the conformance suite ran, not only the plugin's own tests, and skipped nothing
    assert "test_conformance.py::TestConformance::test_lifecycle PASSED" in result.stdout
    assert "SKIPPED" not in result.stdout
