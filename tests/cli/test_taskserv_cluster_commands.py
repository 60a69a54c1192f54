"""`prov taskserv ...` and `prov cluster ...` dispatching to the recording fixture plugins."""

from __future__ import annotations

from tests.cli.conftest import FAST, calls

CREATE = (
    "server",
    "create",
    "web",
    "-p",
    "recording",
    "--plan",
    "small",
    "--zone",
    "test-1",
    "--count",
    "2",
)


def _servers(prov, workspace, extra=""):
    workspace(FAST + extra)
    created = prov(*CREATE)
    assert created.exit_code == 0, created.output


def test_install_on_several_servers_check_first(prov, prov_home, workspace):
    _servers(prov, workspace)
    planned = prov(
        "taskserv", "install", "rectask", "-s", "web-1", "-s", "web-2", "--check", "-o", "json"
    )
    assert planned.exit_code == 0, planned.output
    assert [r["outcome"] for r in planned.json()["results"]] == ["planned", "planned"]
    assert planned.json()["results"][0]["actions"] == [
        "download rectask 2.0.0",
        "install rectask 2.0.0",
        "start rectask",
    ]
    assert all(c["check"] is True for c in calls(prov_home, "rectask") if c["hook"] == "install")

    done = prov(
        "taskserv",
        "install",
        "rectask",
        "-s",
        "web-1",
        "-s",
        "web-2",
        "--version",
        "1.1.0",
        "--wait",
        "-o",
        "json",
    )
    assert done.exit_code == 0, done.output
    assert [(r["outcome"], r["status"]) for r in done.json()["results"]] == [
        ("done", "running 1.1.0")
    ] * 2
    again = prov(
        "taskserv", "install", "rectask", "-s", "web-1", "--version", "1.1.0", "-o", "json"
    )
    assert again.json()["results"][0]["outcome"] == "unchanged"

    status = prov("taskserv", "status", "rectask", "-s", "web-1", "-o", "json").json()["statuses"]
    assert status[0]["version"] == "1.1.0"
    updates = prov("taskserv", "check-updates", "rectask", "-s", "web-2", "-o", "json").json()[
        "updates"
    ]
    assert updates[0]["update_available"] is True
    upgraded = prov("taskserv", "upgrade", "rectask", "-s", "web-2", "-o", "json")
    assert upgraded.exit_code == 0, upgraded.output
    assert (
        prov("taskserv", "status", "rectask", "-s", "web-2", "-o", "json").json()["statuses"][0][
            "version"
        ]
        == "2.0.0"
    )
    removed = prov("taskserv", "uninstall", "rectask", "-s", "web-1", "--wait", "-o", "json")
    assert removed.json()["results"][0]["status"] == "not installed", removed.output


def test_unknown_version_exits_2_and_installs_nothing(prov, prov_home, workspace):
    _servers(prov, workspace)
    result = prov("taskserv", "install", "rectask", "-s", "web-1", "--version", "9.9")
    assert result.exit_code == 2
    assert "allowed: 2.0.0, 1.1.0, 1.0.0 @ --version" in result.stderr
    assert "install" not in {c["hook"] for c in calls(prov_home, "rectask")}


def test_a_taskserv_without_check_is_never_called_in_check_mode(prov, prov_home, workspace):
    _servers(prov, workspace)
    result = prov("taskserv", "install", "rectask-nocheck", "-s", "web-1", "--check", "-o", "json")
    assert result.exit_code == 0, result.output
    assert "cannot describe its steps in check mode" in result.json()["results"][0]["actions"][1]
    assert "install" not in {c["hook"] for c in calls(prov_home, "rectask-nocheck")}


def test_versions_and_unknown_taskserv(prov, workspace):
    workspace(FAST)
    versions = prov("taskserv", "versions", "rectask", "-o", "json").json()["versions"]
    assert [v["version"] for v in versions] == ["2.0.0", "1.1.0", "1.0.0"]
    missing = prov("taskserv", "versions", "nosuch")
    assert missing.exit_code == 2
    assert "taskserv 'nosuch'" in missing.stderr


def test_cluster_lifecycle(prov, prov_home, workspace):
    workspace(FAST + '\n[clusters.ci]\ntype = "reccluster"\nversion = "1.0.0"\n')
    planned = prov("cluster", "create", "ci", "--check", "-o", "json")
    assert planned.exit_code == 0, planned.output
    assert planned.json()["results"][0]["outcome"] == "planned"
    created = prov("cluster", "create", "ci", "--wait", "-o", "json")
    assert created.exit_code == 0, created.output
    assert created.json()["results"][0]["status"] == "running"
    components = prov("cluster", "components", "ci", "-o", "json").json()["components"]
    assert [c["name"] for c in components] == ["db", "api", "web"]
    scaled = prov("cluster", "scale", "ci", "--component", "web", "--replicas", "3", "-o", "json")
    assert scaled.exit_code == 0, scaled.output
    assert "3" in prov("cluster", "component-status", "ci", "web", "-o", "json").stdout
    bad = prov("cluster", "scale", "ci", "--component", "cache", "--replicas", "2")
    assert bad.exit_code == 2
    assert "unknown component 'cache'; allowed: db, api, web @ --component" in bad.stderr
    assert prov("cluster", "restart-component", "ci", "api").exit_code == 0
    assert prov("cluster", "upgrade", "ci", "--version", "1.1.0").exit_code == 0
    status = prov("cluster", "status", "ci", "-o", "json").json()
    assert status["status"] == "running"
    deleted = prov("cluster", "delete", "ci", "--wait", "-o", "json")
    assert deleted.exit_code == 0, deleted.output
    hooks = [c["hook"] for c in calls(prov_home, "reccluster")]
    assert {"create", "scale", "restart_component", "upgrade", "delete"} <= set(hooks)


def test_plugin_info_module_verbs_and_config_show(prov, workspace):
    workspace(FAST)
    info = prov("plugin", "info", "nocheck", "-o", "json").json()["plugins"][0]
    assert info["distribution"] == "prov-fixture-recording"
    assert "configure_firewall (firewall rules)" in info["unsupported"]
    assert "create_server" not in info["accepts_check"]
    discovered = prov("module", "discover", "provider", "--name", "recording", "-o", "json").json()
    assert discovered["name"] == "recording"
    loaded = prov("module", "load", "taskserv", "rectask", "-o", "json").json()
    assert loaded["version"] == "1.0.0"
    assert "install" in loaded["hooks"]
    validated = prov("plugin", "validate", "rectask", "-o", "json")
    assert validated.exit_code == 0, validated.output
    assert validated.json()["kind"] == "taskserv"
    shown = prov("config", "show", "-o", "json").json()
    assert shown["config"]["operations"]["wait_interval"] == 0.05
    assert any(s.startswith("workspace: ") for s in shown["sources"])


def test_taskserv_list_shows_what_is_installed_where(prov, workspace):
    _servers(prov, workspace)
    assert prov("taskserv", "list", "-o", "json").json() == {"taskservs": []}
    assert prov("taskserv", "install", "rectask", "-s", "web-1", "-s", "web-2").exit_code == 0
    up = ("taskserv", "upgrade", "rectask", "-s", "web-2", "--version", "2.0.0", "--wait")
    assert prov(*up).exit_code == 0
    rows = prov("taskserv", "list", "-o", "json").json()["taskservs"]
    # web-1's version was neither asked for nor seen (no --wait): not made up
    assert [(r["server"], r["taskserv"], r["version"]) for r in rows] == [
        ("web-1", "rectask", None),
        ("web-2", "rectask", "2.0.0"),
    ]
    assert all(r["installed_at"] and r["running"] is None for r in rows)
    fresh = prov("taskserv", "list", "--server", "web-1", "--refresh", "-o", "json").json()
    [row] = fresh["taskservs"]
    assert (row["server"], row["running"], row["healthy"]) == ("web-1", True, True)
    assert row["version"] == "2.0.0"  # the server said
    assert prov("taskserv", "uninstall", "rectask", "-s", "web-1").exit_code == 0
    after = prov("taskserv", "list", "-o", "json").json()["taskservs"]
    assert [r["server"] for r in after] == ["web-2"]


def test_cluster_list_names_the_configured_clusters_and_their_last_operation(prov, workspace):
    workspace(
        FAST
        + '\n[clusters.ci]\ntype = "reccluster"\nversion = "1.0.0"\n'
        + '\n[clusters.shop]\ntype = "reccluster"\n'
    )
    assert prov("cluster", "create", "ci", "--wait").exit_code == 0
    rows = prov("cluster", "list", "-o", "json").json()["clusters"]
    assert [(r["name"], r["type"], r["version"]) for r in rows] == [
        ("ci", "reccluster", "1.0.0"),
        ("shop", "reccluster", None),
    ]
    assert (rows[0]["last_action"], rows[0]["last_status"]) == ("create", "succeeded")
    assert rows[1]["last_action"] is None


def test_an_unconfigured_cluster_and_a_misplaced_global_option_are_explained(prov, workspace):
    workspace(FAST)
    missing = prov("cluster", "status", "nope")
    assert missing.exit_code == 2
    assert "cluster 'nope' is not configured, and no cluster plugin is named so" in missing.stderr
    assert "pip install" not in missing.stderr
    misplaced = prov("server", "list", "-v")
    assert misplaced.exit_code == 2
    assert "put it before the command (prov -v server list)" in misplaced.stderr


def test_server_delete_check_names_the_taskservs_that_go_with_it(prov, workspace):
    _servers(prov, workspace)
    assert prov("taskserv", "install", "rectask", "-s", "web-1", "--wait").exit_code == 0
    plan = prov("server", "delete", "web-1", "--check", "-o", "json").json()
    [result] = plan["results"]
    assert result["actions"][-1] == "and with it the taskservs installed there: rectask 2.0.0"
    other = prov("server", "delete", "web-2", "--check", "-o", "json").json()["results"][0]
    assert len(other["actions"]) == 1  # nothing installed there


def test_config_show_has_one_shape_and_says_where_each_value_came_from(prov, workspace):
    path = workspace(FAST)
    piped = prov("config", "show")  # piped: JSON, the same shape as -o json
    assert piped.exit_code == 0, piped.output
    assert set(piped.json()) == {"config", "sources", "problems"}
    assert piped.json()["config"]["operations"]["wait_interval"] == 0.05
    import yaml

    assert set(yaml.safe_load(prov("config", "show", "-o", "yaml").stdout)) == set(piped.json())
    origins = prov("config", "show", "--show-origin", "-o", "json").json()["origins"]
    assert origins["operations.wait_interval"] == f"workspace {path}"
    assert origins["operations.parallelism"].startswith("defaults ")
