"""The author's path end to end: scaffold -> wheel -> fresh virtual environment
with the core's wheel -> discovered, validated, tests and conformance passing,
servers created and deleted on the tiny backend by the installed ``prov``.

One test on a module-scoped environment: building two wheels and a venv is
the slow part (pip installs the core's dependencies from the configured
index, reusing pip's cache).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from provisioning_core.scaffold import new_plugin

REPO = Path(__file__).resolve().parents[2]
NAME = "e2e-cloud"
MODULE = "provisioning_provider_e2e_cloud"


def _run(*command: str | Path, cwd: Path | None = None, env=None, timeout: float = 600):
    return subprocess.run(
        [str(c) for c in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (
        f"`{' '.join(result.args)}` exited {result.returncode}\n"
        f"stdout: {result.stdout[-4000:]}\nstderr: {result.stderr[-4000:]}"
    )
    return result


def _bin(venv: Path, name: str) -> Path:
    return venv / ("Scripts" if sys.platform == "win32" else "bin") / name


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The generated project, the two wheels and a venv with both installed."""
    root = tmp_path_factory.mktemp("e2e")
    project = new_plugin("provider", NAME, root / "src")
    dist = root / "dist"
    for source in (project, REPO):
        _ok(
            _run(
                sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                "--no-build-isolation", "--disable-pip-version-check", "-w", dist, source,
            )
        )  # fmt: skip
    wheels = sorted(dist.glob("*.whl"))
    assert [w.name.split("-")[0] for w in wheels] == ["provisioning_core", MODULE]
    venv = root / "venv"
    _ok(_run(sys.executable, "-m", "venv", venv))
    python = _bin(venv, "python")
    _ok(
        _run(
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *wheels,
            "pytest",
        )
    )
    return {"root": root, "project": project, "wheels": wheels, "venv": venv}


def _env(world, home: Path) -> dict[str, str]:
    """The venv's environment: nothing of this test process leaks in (no PYTHONPATH)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PROV_", "PYTEST_", "PYTHON")) and k != "VIRTUAL_ENV"
    }
    env["PATH"] = os.pathsep.join([str(_bin(world["venv"], "")), env.get("PATH", "")])
    env["PROV_HOME"] = str(home)
    env["XDG_CONFIG_HOME"] = str(home.parent / "xdg-config")
    return env


def test_scaffold_wheel_venv_discovered_validated_tested_and_working(world, tmp_path, prov_home):
    core_wheel = zipfile.ZipFile(world["wheels"][0]).namelist()
    assert "provisioning_core/scaffold/templates/provider/package/backend.py.j2" in core_wheel

    home = prov_home  # this test's own, like the workspace: the cwd
    work = Path.cwd()
    # fast polling, servers that settle quickly: the lifecycle takes seconds
    (work / "provisioning.toml").write_text(
        f"[operations]\nwait_interval = 0.2\n\n[providers.{NAME}]\noptions = {{ settle_seconds = 0.1 }}\n"
    )
    env = _env(world, home)
    venv = world["venv"]

    def prov(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return _run(_bin(venv, "prov"), *args, cwd=work, env={**env, **extra})

    # the installed code is the wheel's, not this checkout's
    code = f"import {MODULE}, provisioning_core as c; print({MODULE}.__file__, c.__file__)"
    where = _ok(_run(_bin(venv, "python"), "-c", code, cwd=work, env=env))
    assert str(REPO) not in where.stdout
    assert str(world["project"]) not in where.stdout

    listed = json.loads(_ok(prov("plugin", "list", "-o", "json")).stdout)
    row = next(r for r in listed["plugins"] if r["name"] == NAME)
    assert (row["kind"], row["status"], row["distribution"], row["warnings"]) == (
        "provider", "ok", f"provisioning-provider-{NAME}", []
    )  # fmt: skip

    validated = _ok(prov("plugin", "validate", NAME, "--kind", "provider", PROV_STRICT="1"))
    assert validated.stdout.split() == [
        "structure", "passed", "schema", "passed", "interface", "passed",
        "dependency", "passed", "version", "passed",
    ]  # fmt: skip

    # the generated tests, the conformance suite included, against the installed wheel
    tested = _ok(
        _run(_bin(venv, "pytest"), "-p", "no:cacheprovider", "-v", cwd=world["project"], env=env)
    )
    assert "TestConformance::test_lifecycle PASSED" in tested.stdout
    # and the suite the plugin declares (entry point provisioning.conformance), run by prov
    _ok(prov("plugin", "test", NAME))

    create = (
        "server",
        "create",
        "web-1",
        "--provider",
        NAME,
        "--plan",
        "small",
        "--zone",
        "zone-a",
    )
    created = json.loads(_ok(prov(*create, "--wait", "-o", "json")).stdout)
    assert created["ok"] is True, created
    servers = json.loads(_ok(prov("server", "list", "-o", "json")).stdout)["servers"]
    web = [s for s in servers if s["hostname"] == "web-1"]
    assert [(s["provider"], s["status"], s["plan"], s["zone"]) for s in web] == [
        (NAME, "running", "small", "zone-a")
    ]
    _ok(prov("server", "stop", "web-1", "--wait", "-o", "json"))
    info = json.loads(_ok(prov("server", "info", "web-1", "-o", "json")).stdout)
    assert info["status"] == "stopped"
    _ok(prov("server", "delete", "web-1", "-o", "json"))
    backend = json.loads((home / NAME / "servers.json").read_text())
    assert backend["servers"] == {}
    listed = json.loads(_ok(prov("server", "list", "--provider", NAME, "-o", "json")).stdout)
    assert listed["servers"] == []

    # the templates shipped in the core's wheel: the installed prov scaffolds too
    again = _ok(
        prov("plugin", "new", "cluster", "shipped", "--dir", str(tmp_path / "more"), "-o", "json")
    )
    assert json.loads(again.stdout)["path"].endswith("provisioning-cluster-shipped")
