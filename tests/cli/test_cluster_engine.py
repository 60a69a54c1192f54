"""The core's cluster engine: a plugin that only describes its components.

``recdeploy`` (recording fixture) implements only ``cluster_info``; each
component is a ``rectask`` with its own store, so what the engine installed,
in which order and what it rolled back is read from real files.
"""

from __future__ import annotations

import json
import sqlite3

from tests.cli.conftest import FAST, calls
from tests.cli.test_taskserv_cluster_commands import CREATE


def _components(**knobs: dict[str, object]) -> str:
    """``[[clusters.ci.components]]`` tables: db <- api <- web, with extra settings."""
    parts = {"db": [], "api": ["db"], "web": ["api"]}
    text = ""
    for name, deps in parts.items():
        settings = {"taskserv": "rectask", "store": name, **knobs.get(name, {})}
        text += (
            f'\n[[clusters.ci.components]]\nname = "{name}"\nversion = "1.0.0"\n'
            f"depends_on = {json.dumps(deps)}\nreplicas = {2 if name == 'db' else 1}\n"
            f"settings = {_inline(settings)}\n"
        )
    return text


def _inline(table: dict[str, object]) -> str:
    return "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in table.items()) + " }"


def _setup(prov, workspace, components: str = "") -> None:
    workspace(
        FAST + '\n[clusters.ci]\ntype = "recdeploy"\nservers = ["web-1", "web-2"]\n' + components
    )
    created = prov(*CREATE)
    assert created.exit_code == 0, created.output


def _store(prov_home, name):
    path = prov_home / "recording" / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _installed(prov_home, name):
    """hostname -> version of component ``name``."""
    servers = _store(prov_home, name).get("servers", {})
    return {s["hostname"]: s["version"] for s in servers.values()}


def _rows(prov_home):
    db = sqlite3.connect(prov_home / "inventory.sqlite3")
    try:
        return sorted(
            db.execute("SELECT component, server, status, version FROM cluster_components")
        )
    finally:
        db.close()


def _mutations(prov_home, *names):
    """(hook, component, hostname) of every real mutating call, in call order."""
    logged = [
        (c["time"], c["hook"], name, c.get("hostname"))
        for name in names
        for c in calls(prov_home, name)
        if c["hook"] in {"install", "uninstall", "upgrade"} and c["check"] is False
    ]
    return [entry[1:] for entry in sorted(logged)]


def test_check_mode_prints_the_plan_in_waves_and_changes_nothing(prov, prov_home, workspace):
    _setup(prov, workspace)
    planned = prov("cluster", "create", "ci", "--check", "-o", "json")
    assert planned.exit_code == 0, planned.output
    results = planned.json()["results"]
    # the plugin's own components: one replica each, on web-1
    assert [(r["target"], r["data"]["wave"], r["outcome"]) for r in results] == [
        ("db@web-1", 1, "planned"),
        ("api@web-1", 2, "planned"),
        ("web@web-1", 3, "planned"),
    ]
    assert results[0]["actions"][0] == "wave 1: install rectask 1.0.0 on web-1"
    assert "install rectask 1.0.0" in results[0]["actions"]
    for name in ("db", "api", "web"):
        assert not (prov_home / "recording" / f"{name}.json").exists()
    assert _rows(prov_home) == []


def test_create_deploys_in_dependency_order_and_status_aggregates(prov, prov_home, workspace):
    _setup(prov, workspace, _components())
    done = prov("cluster", "create", "ci", "-o", "json")
    assert done.exit_code == 0, done.output
    assert [(r["target"], r["outcome"]) for r in done.json()["results"]] == [
        ("db@web-1", "done"),
        ("db@web-2", "done"),
        ("api@web-1", "done"),
        ("web@web-1", "done"),
    ]
    order = _mutations(prov_home, "db", "api", "web")
    assert [c for _, c, _ in order].index("api") > max(
        i for i, (_, c, _) in enumerate(order) if c == "db"
    )
    assert order[-1] == ("install", "web", "web-1")
    assert _installed(prov_home, "db") == {"web-1": "1.0.0", "web-2": "1.0.0"}
    assert _rows(prov_home) == [
        ("api", "web-1", "deployed", "1.0.0"),
        ("db", "web-1", "deployed", "1.0.0"),
        ("db", "web-2", "deployed", "1.0.0"),
        ("web", "web-1", "deployed", "1.0.0"),
    ]

    status = prov("cluster", "status", "ci", "-o", "json")
    assert status.exit_code == 0, status.output
    body = status.json()
    assert body["status"] == "running"
    assert {c["name"]: (c["status"], c["healthy"]) for c in body["components"]} == {
        "db": ("running", True),
        "api": ("running", True),
        "web": ("running", True),
    }
    again = prov("cluster", "create", "ci", "-o", "json")
    assert {r["outcome"] for r in again.json()["results"]} == {"unchanged"}


def test_a_failed_component_rolls_back_what_was_deployed_in_reverse(prov, prov_home, workspace):
    _setup(prov, workspace, _components(web={"raise_after": ["install"]}))
    failed = prov("cluster", "create", "ci", "-o", "json")
    assert failed.exit_code == 1, failed.output
    (web,) = [r for r in failed.json()["results"] if r["outcome"] == "failed"]
    assert web["target"] == "web@web-1"
    assert "boom after install did its work" in web["error"]
    rolled = [r["target"] for r in failed.json()["results"] if r["outcome"] == "rolled back"]
    # the half-done web first, then api, then db (both servers in one wave)
    assert rolled == ["web@web-1", "api@web-1", "db@web-1", "db@web-2"]
    undo = [
        (c, h) for hook, c, h in _mutations(prov_home, "db", "api", "web") if hook == "uninstall"
    ]
    assert undo[0] == ("web", "web-1")
    assert undo[1] == ("api", "web-1")
    assert sorted(undo[2:]) == [("db", "web-1"), ("db", "web-2")]
    for name in ("db", "api", "web"):
        assert _installed(prov_home, name) == {}
    assert _rows(prov_home) == []


def test_a_failed_rollback_is_marked_for_manual_cleanup(prov, prov_home, workspace):
    _setup(
        prov,
        workspace,
        _components(web={"raise_in": ["install"]}, api={"raise_in": ["uninstall"]}),
    )
    failed = prov("cluster", "create", "ci", "-o", "json")
    assert failed.exit_code == 1, failed.output
    by_target = {}
    for r in failed.json()["results"]:
        by_target.setdefault(r["target"], []).append(r)
    api_undo = by_target["api@web-1"][-1]
    assert api_undo["outcome"] == "failed"
    assert "clean api up on web-1 by hand" in api_undo["hint"]
    # web was absent before its install failed, so undoing it is safe (and harmless)
    assert [r["outcome"] for r in by_target["web@web-1"]] == ["failed", "rolled back"]
    assert ("api", "web-1", "cleanup", "1.0.0") in _rows(prov_home)
    assert _installed(prov_home, "db") == {}
    status = prov("cluster", "status", "ci", "-o", "json")
    body = status.json()
    assert body["status"] == "failed"
    api = next(c for c in body["components"] if c["name"] == "api")
    assert api["status"] == "cleanup"
    assert "needs cleanup" in api["message"]


def test_delete_runs_in_reverse_order(prov, prov_home, workspace):
    _setup(prov, workspace, _components())
    assert prov("cluster", "create", "ci").exit_code == 0
    deleted = prov("cluster", "delete", "ci", "-o", "json")
    assert deleted.exit_code == 0, deleted.output
    removals = [
        (c, h) for hook, c, h in _mutations(prov_home, "db", "api", "web") if hook == "uninstall"
    ]
    assert removals[:2] == [("web", "web-1"), ("api", "web-1")]
    assert sorted(removals[2:]) == [("db", "web-1"), ("db", "web-2")]
    assert _rows(prov_home) == []
    assert prov("cluster", "status", "ci", "-o", "json").json()["status"] == "absent"


def test_scale_adds_and_removes_servers_of_one_component(prov, prov_home, workspace):
    _setup(prov, workspace, _components())
    assert prov("cluster", "create", "ci").exit_code == 0
    up = prov("cluster", "scale", "ci", "-c", "web", "-r", "2", "-o", "json")
    assert up.exit_code == 0, up.output
    assert [(r["target"], r["outcome"]) for r in up.json()["results"]] == [("web@web-2", "done")]
    assert _installed(prov_home, "web") == {"web-1": "1.0.0", "web-2": "1.0.0"}
    down = prov("cluster", "scale", "ci", "-c", "db", "-r", "0")
    assert down.exit_code == 0, down.output
    assert _installed(prov_home, "db") == {}
    too_many = prov("cluster", "scale", "ci", "-c", "web", "-r", "3")
    assert too_many.exit_code == 2
    assert "the cluster has 2 servers" in too_many.output


def test_upgrade_moves_components_to_a_cluster_version(prov, prov_home, workspace):
    _setup(prov, workspace, _components())
    assert prov("cluster", "create", "ci").exit_code == 0
    unknown = prov("cluster", "upgrade", "ci", "--version", "9.9")
    assert unknown.exit_code == 2
    assert "allowed: 1.0, 1.1" in unknown.output
    upgraded = prov("cluster", "upgrade", "ci", "--version", "1.1", "-o", "json")
    assert upgraded.exit_code == 0, upgraded.output
    assert _installed(prov_home, "db") == {"web-1": "1.1.0", "web-2": "1.1.0"}
    assert _installed(prov_home, "web") == {"web-1": "2.0.0"}
    one = prov("cluster", "upgrade", "ci", "--component", "api", "--version", "2.0.0")
    assert one.exit_code == 0, one.output
    assert _installed(prov_home, "api") == {"web-1": "2.0.0"}
    assert ("api", "web-1", "deployed", "2.0.0") in _rows(prov_home)


def test_a_failed_upgrade_moves_the_others_back(prov, prov_home, workspace):
    _setup(prov, workspace, _components(web={"raise_after": ["upgrade"]}))
    assert prov("cluster", "create", "ci").exit_code == 0
    failed = prov("cluster", "upgrade", "ci", "--version", "1.1", "-o", "json")
    assert failed.exit_code == 1, failed.output
    assert _installed(prov_home, "db") == {"web-1": "1.0.0", "web-2": "1.0.0"}
    assert _installed(prov_home, "api") == {"web-1": "1.0.0"}
    # web's own undo did its work and then raised (raise_after every upgrade): a
    # person must look, so it is marked for cleanup
    assert _installed(prov_home, "web") == {"web-1": "1.0.0"}
    assert ("web", "web-1", "cleanup", "1.0.0") in _rows(prov_home)
