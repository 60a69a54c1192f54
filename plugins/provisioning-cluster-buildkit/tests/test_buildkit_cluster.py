"""The buildkit cluster deployed by the core's cluster engine onto local sandboxes,
over real SSH, from a mirror of (fake) upstream releases."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import pytest
from provisioning_core import ExtensionManager, validate_extension

from provisioning_cluster_buildkit.plugin import VERSIONS

PROJECT = Path(__file__).resolve().parents[1]


def roots(prov_home: Path) -> list[Path]:
    return sorted((prov_home / "local" / "servers").glob("*/root"))


def snapshot(prov_home: Path) -> dict[str, str]:
    """Every file, directory and link of every sandbox root, with content digests."""
    found = {}
    for root in roots(prov_home):
        for path in sorted(root.rglob("*")):
            rel = f"{root.parent.name}/{path.relative_to(root)}"
            if path.is_symlink():
                found[rel] = f"link {path.readlink()}"
            elif path.is_file():
                found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                found[rel] = "dir"
    return found


def services(prov_home: Path) -> set[str]:
    """The command lines of the processes running in the sandboxes, daemons left out."""
    wanted = os.fsencode(str(prov_home))
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        in_sandbox = any(v.startswith(b"PROV_SANDBOX_ROOT=" + wanted) for v in environ)
        daemon = "provisioning_provider_local" in cmdline
        session = cmdline.startswith(("/bin/sh -c", "sh -c"))  # SSH sessions of a moment
        if in_sandbox and not daemon and not session:
            found.add(cmdline.strip())
    return found


def rows(prov_home: Path) -> list[tuple[str, str, str, str | None]]:
    path = prov_home / "inventory.sqlite3"
    db = sqlite3.connect(path)
    try:
        return sorted(
            db.execute("SELECT component, server, status, version FROM cluster_components")
        )
    finally:
        db.close()


def deployed(prov_home: Path, name: str) -> list[str]:
    """The sandboxes (by server id) that have ``name``'s version marker."""
    return sorted(root.parent.name for root in roots(prov_home) if (root / "etc" / name).is_dir())


def test_the_plugin_validates():
    report = validate_extension(PROJECT, "cluster", strict=True)
    assert report.valid, report
    assert validate_extension("buildkit", "cluster", manager=ExtensionManager()).valid


def test_check_prints_the_plan_in_dependency_order_and_changes_nothing(prov, prov_home, servers):
    before = (snapshot(prov_home), services(prov_home), rows(prov_home))
    planned = prov("cluster", "create", "ci", "--check", "-o", "json")
    assert planned.exit_code == 0, planned.output
    results = planned.json()["results"]
    assert [(r["target"], r["data"]["wave"]) for r in results] == [
        ("containerd@build-1", 1),
        ("containerd@build-2", 1),
        ("registry@build-1", 1),
        ("buildkit@build-1", 2),
        ("buildkit@build-2", 2),
    ]
    latest = VERSIONS[list(VERSIONS)[-1]]
    assert results[0]["actions"][0] == (
        f"wave 1: install containerd {latest['containerd']} on build-1"
    )
    assert all(r["outcome"] == "planned" for r in results)
    assert any("would" in a for a in results[0]["actions"][1:])
    assert (snapshot(prov_home), services(prov_home), rows(prov_home)) == before

    table = prov("cluster", "create", "ci", "--check")
    assert table.exit_code == 0, table.output
    assert table.stdout.index("containerd@build-1") < table.stdout.index("buildkit@build-1")


def test_create_status_scale_upgrade_and_delete(prov, prov_home, servers, workspace):
    workspace(cluster={"version": "1.0"})
    created = prov("cluster", "create", "ci", "-o", "json")
    assert created.exit_code == 0, created.output
    assert {r["outcome"] for r in created.json()["results"]} == {"done"}
    v10 = VERSIONS["1.0"]
    assert rows(prov_home) == sorted(
        [
            ("buildkit", "build-1", "deployed", v10["buildkit"]),
            ("buildkit", "build-2", "deployed", v10["buildkit"]),
            ("containerd", "build-1", "deployed", v10["containerd"]),
            ("containerd", "build-2", "deployed", v10["containerd"]),
            ("registry", "build-1", "deployed", v10["registry"]),
        ]
    )
    assert any("buildkitd" in cmd for cmd in services(prov_home))

    status = prov("cluster", "status", "ci", "-o", "json")
    assert status.exit_code == 0, status.output
    body = status.json()
    assert body["status"] == "running"
    assert {c["name"]: c["healthy"] for c in body["components"]} == {
        "containerd": True,
        "buildkit": True,
        "registry": True,
    }

    shrunk = prov("cluster", "scale", "ci", "-c", "buildkit", "-r", "1", "-o", "json")
    assert shrunk.exit_code == 0, shrunk.output
    assert [r["target"] for r in shrunk.json()["results"]] == ["buildkit@build-2"]
    assert ("buildkit", "build-2", "deployed", v10["buildkit"]) not in rows(prov_home)
    refused = prov("cluster", "scale", "ci", "-c", "containerd", "-r", "0")
    assert refused.exit_code == 2
    assert "buildkit needs containerd on the same server" in refused.output

    upgraded = prov("cluster", "upgrade", "ci", "--version", "1.1", "-o", "json")
    assert upgraded.exit_code == 0, upgraded.output
    v11 = VERSIONS["1.1"]
    assert ("buildkit", "build-1", "deployed", v11["buildkit"]) in rows(prov_home)
    assert ("containerd", "build-2", "deployed", v11["containerd"]) in rows(prov_home)
    # the registry is the same in 1.0 and 1.1: left alone
    assert "registry@build-1" not in [r["target"] for r in upgraded.json()["results"]]

    deleted = prov("cluster", "delete", "ci", "-o", "json")
    assert deleted.exit_code == 0, deleted.output
    order = [r["target"] for r in deleted.json()["results"]]
    assert order.index("buildkit@build-1") < order.index("containerd@build-1")
    assert rows(prov_home) == []
    assert services(prov_home) == set()
    assert deployed(prov_home, "containerd") == []


def test_a_failing_component_rolls_back_the_others(prov, prov_home, servers, workspace):
    # buildkit's pinned digest is wrong: its download is refused after containerd
    # and the registry are already deployed
    bad = dict.fromkeys({p["buildkit"] for p in VERSIONS.values()}, "0" * 64)
    workspace(buildkit={"sha256": bad})
    failed = prov("cluster", "create", "ci", "-o", "json")
    assert failed.exit_code == 1, failed.output
    results = failed.json()["results"]
    errors = [r for r in results if r["outcome"] == "failed"]
    assert {r["target"] for r in errors} == {"buildkit@build-1", "buildkit@build-2"}
    assert "sha256" in errors[0]["error"]
    rolled = [r["target"] for r in results if r["outcome"] == "rolled back"]
    # containerd and the registry undone after the half-done buildkit steps
    assert set(rolled) >= {"containerd@build-1", "containerd@build-2", "registry@build-1"}
    assert rolled.index("containerd@build-1") > rolled.index("buildkit@build-1")
    assert rows(prov_home) == []
    assert services(prov_home) == set()
    assert deployed(prov_home, "containerd") == []
    assert deployed(prov_home, "registry") == []


@pytest.mark.parametrize("version", ["9.9"])
def test_an_unknown_cluster_version_is_refused_before_anything_runs(
    prov, prov_home, servers, workspace, version
):
    workspace(cluster={"version": version})
    refused = prov("cluster", "create", "ci")
    assert refused.exit_code == 2
    assert f"unknown cluster version '{version}'" in refused.output
    assert "$.clusters.ci.version" in refused.output
    assert rows(prov_home) == []
