"""`prov server ...` against the recording fixture providers, installed as real distributions."""

from __future__ import annotations

from provisioning_core.cli import cli
from provisioning_core.state import Inventory
from tests.cli.conftest import FAST, calls

MUTATING = {
    "create_server",
    "delete_server",
    "start_server",
    "stop_server",
    "reboot_server",
    "configure_firewall",
}
CREATE = ("server", "create", "web", "-p", "recording", "--plan", "small", "--zone", "test-1")


def test_every_command_has_help(prov):
    for group in ("server", "taskserv", "cluster", "plugin", "module", "config", "operations"):
        sub = cli.get_command(None, group)
        assert prov(group, "--help").exit_code == 0
        for name in sub.list_commands(None):
            result = prov(group, name, "--help")
            assert result.exit_code == 0, (group, name, result.output)
            assert "Usage: prov" in result.stdout


def test_check_mode_calls_nothing_mutating_and_writes_nothing(prov, prov_home, workspace):
    workspace(FAST)
    result = prov(*CREATE, "--count", "3", "--check", "-o", "json")
    assert result.exit_code == 0, result.output
    report = result.json()
    assert report["check"] is True
    assert [r["outcome"] for r in report["results"]] == ["planned"] * 3
    assert [r["target"] for r in report["results"]] == ["web-1", "web-2", "web-3"]
    made = calls(prov_home)
    # the plugin takes `check`, so it was asked to describe, with check=True only
    assert {c["hook"] for c in made} <= {
        "get_plans",
        "get_zones",
        "list_servers",
        "provider_info",
        "validate_config",
        "create_server",
    }
    assert all(c["check"] is True for c in made if c["hook"] == "create_server")
    assert not (prov_home / "inventory.sqlite3").exists()
    assert not (prov_home / "recording" / "recording.json").exists()


def test_check_mode_never_calls_a_plugin_without_check(prov, prov_home, workspace):
    workspace(FAST)
    result = prov(
        "server",
        "create",
        "db",
        "-p",
        "nocheck",
        "--plan",
        "small",
        "--zone",
        "test-2",
        "--check",
        "-o",
        "json",
    )
    assert result.exit_code == 0, result.output
    assert result.json()["results"][0]["actions"][0].startswith("create server db on nocheck")
    assert "create_server" not in {c["hook"] for c in calls(prov_home, "nocheck")}


def test_server_lifecycle_and_inventory(prov, prov_home, workspace):
    workspace(FAST)
    created = prov(*CREATE, "--count", "2", "--wait", "--tag", "env=test", "-o", "json")
    assert created.exit_code == 0, created.output
    results = created.json()["results"]
    assert [r["status"] for r in results] == ["running", "running"]
    ids = [r["data"]["id"] for r in results]

    listed = prov("server", "list", "-o", "json").json()["servers"]
    assert {(s["hostname"], s["where"], s["status"]) for s in listed} == {
        ("web-1", "both", "running"),
        ("web-2", "both", "running"),
    }

    # the inventory remembers the provider: no --provider needed from here on
    info = prov("server", "info", "web-1", "-o", "json")
    assert info.exit_code == 0, info.output
    assert info.json()["id"] == ids[0]
    assert info.json()["tags"] == {"env": "test"}

    stopped = prov("server", "stop", "web-1", "--wait", "-o", "json")
    assert stopped.json()["results"][0]["status"] == "stopped", stopped.output
    started = prov("server", "start", ids[0], "--wait", "-o", "json")
    assert started.json()["results"][0]["status"] == "running", started.output

    deleted = prov("server", "delete", "web-1", "web-2", "--wait", "-o", "json")
    assert deleted.exit_code == 0, deleted.output
    assert [r["status"] for r in deleted.json()["results"]] == ["deleted", "deleted"]
    assert prov("server", "list", "-o", "json").json()["servers"] == []

    with Inventory(prov_home / "inventory.sqlite3") as inventory:
        records = inventory.servers(include_deleted=True)
        assert {(r.hostname, r.deleted) for r in records} == {("web-1", True), ("web-2", True)}
        actions = [op.action for op in inventory.operations(limit=20)]
        assert actions.count("server.create") == 2
        assert {"server.stop", "server.start", "server.delete"} <= set(actions)


def test_bad_input_exits_2_naming_the_field_and_calls_nothing(prov, prov_home, workspace):
    workspace(FAST)
    cases = [
        (("--plan", "huge"), "unknown plan 'huge'; allowed: small, medium, large @ --plan"),
        (("--zone", "mars"), "unknown zone 'mars'; allowed: test-1, test-2 @ --zone"),
        (("--tag", "novalue"), "'novalue' is not KEY=VALUE @ --tag"),
        (("--rule", "in,tcp,99999,accept"), "invalid port 99999: expected 1-65535 @ --rule"),
        (
            ("--rule", "sideways,tcp,22,accept"),
            "invalid direction 'sideways': expected one of in, out @ --rule",
        ),
    ]
    for extra, message in cases:
        args = list(CREATE)
        for flag, value in zip(extra[::2], extra[1::2], strict=True):
            if flag in args:
                args[args.index(flag) + 1] = value
            else:
                args += [flag, value]
        result = prov(*args)
        assert result.exit_code == 2, (extra, result.output)
        assert message in result.stderr, (extra, result.stderr)
        assert "Traceback" not in result.output
    bad_host = prov(
        "server", "create", "bad_host", "-p", "recording", "--plan", "small", "--zone", "test-1"
    )
    assert bad_host.exit_code == 2
    assert "invalid hostname 'bad_host'" in bad_host.stderr
    assert not [c for c in calls(prov_home) if c["hook"] in MUTATING]


def test_unknown_server_and_missing_capability_exit_2(prov, workspace):
    workspace(FAST)
    missing = prov("server", "info", "ghost")
    assert missing.exit_code == 2
    assert "no server 'ghost' in the inventory" in missing.stderr
    assert "--provider" in missing.stderr
    assert (
        prov(
            "server", "create", "fw", "-p", "nocheck", "--plan", "small", "--zone", "test-1"
        ).exit_code
        == 0
    )
    refused = prov("server", "firewall", "fw", "--rule", "in,tcp,22,accept")
    assert refused.exit_code == 2
    assert (
        "provider 'nocheck' (prov-fixture-recording 1.0.0): does not support firewall rules"
        in refused.stderr
    )
    pricing = prov("server", "pricing", "-p", "nocheck")
    assert pricing.exit_code == 2
    assert "does not support pricing" in pricing.stderr


def test_firewall_rules_reach_the_provider(prov, prov_home, workspace):
    workspace(FAST)
    assert prov(*CREATE).exit_code == 0
    planned = prov(
        "server",
        "firewall",
        "web",
        "--rule",
        "in,tcp,22,accept,10.0.0.0/8",
        "--check",
        "-o",
        "json",
    )
    assert planned.exit_code == 0, planned.output
    assert "configure_firewall" not in {c["hook"] for c in calls(prov_home)}
    done = prov(
        "server",
        "firewall",
        "web",
        "--rule",
        "in,tcp,22,accept,10.0.0.0/8",
        "--rule",
        "in,any,*,drop",
    )
    assert done.exit_code == 0, done.output
    assert [c["hook"] for c in calls(prov_home)].count("configure_firewall") == 1


def test_plans_zones_pricing_in_every_format(prov, workspace):
    workspace(FAST)
    assert [
        p["name"] for p in prov("server", "plans", "-p", "recording", "-o", "json").json()["plans"]
    ] == ["small", "medium", "large"]
    assert "name: test-1" in prov("server", "zones", "-p", "recording", "-o", "yaml").stdout
    table = prov("server", "pricing", "-p", "recording", "-o", "table").stdout
    assert table.split()[:4] == ["PLAN", "ZONE", "HOURLY", "CURRENCY"]


def test_list_reconciles_both_sides(prov, prov_home, workspace):
    workspace(FAST)
    assert prov(*CREATE).exit_code == 0
    # a server made behind prov's back, through the plugin directly
    from provisioning_core import ExtensionManager, ProviderSettings, ServerConfig

    ext = ExtensionManager().load_extension("provider", "recording")
    ext.call(
        "create_server",
        settings=ProviderSettings(name="recording"),
        config=ServerConfig("stray", "small", "test-1"),
        check=False,
    )
    # and one deleted behind its back
    with Inventory(prov_home / "inventory.sqlite3") as inventory:
        ghost = inventory.upsert_server(
            "recording", "ghost", server_id="rec-000000", status="running"
        )
    rows = {
        r["hostname"]: r
        for r in prov("server", "list", "-p", "recording", "-o", "json").json()["servers"]
    }
    assert rows["web"]["where"] == "both"
    assert rows["stray"]["where"] == "provider"
    assert rows["ghost"]["where"] == "inventory"
    assert "deleted outside prov" in rows["ghost"]["note"]
    assert ghost.server_id == "rec-000000"
    # deleting what is already gone is done, not an error, and clears the record
    gone = prov("server", "delete", "ghost", "-o", "json")
    assert gone.exit_code == 0, gone.output
    assert gone.json()["results"][0]["outcome"] == "unchanged"
    assert "ghost" not in prov("server", "list", "-o", "json").stdout


def test_ssh_prints_the_command(prov, workspace):
    workspace(FAST + "\n[providers.recording.options]\nssh_port = 2222\n")
    assert prov(*CREATE).exit_code == 0
    result = prov("server", "ssh", "web", "--print", "--", "uptime", "-p")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "ssh -p 2222 root@127.0.0.1 -- uptime -p"


def test_server_names_complete_from_the_inventory(prov, prov_home, workspace, installed):
    import subprocess
    import sys

    from tests.cli.conftest import process_env

    workspace(FAST)
    env = process_env(
        installed,
        {"_PROV_COMPLETE": "bash_complete", "COMP_WORDS": "prov server info we", "COMP_CWORD": "3"},
    )
    before = subprocess.run(
        [sys.executable, "-m", "provisioning_core"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "web" not in before.stdout  # no inventory yet: nothing, and none created
    assert not (prov_home / "inventory.sqlite3").exists()
    assert prov(*CREATE).exit_code == 0
    after = subprocess.run(
        [sys.executable, "-m", "provisioning_core"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "plain,web" in after.stdout.splitlines()


def test_operations_ack_needs_ids_or_all(prov, workspace):
    workspace(FAST)
    result = prov("operations", "ack")
    assert result.exit_code == 2
    assert "pass their ids, or --all" in result.stderr
    assert prov("operations", "list", "-o", "json").json() == {"operations": []}


def test_tables_print_data_literally_never_as_markup_or_terminal_codes(prov, workspace):
    workspace(FAST)
    tag = "ticket=[link=http://x]OPS-1"
    created = prov(*CREATE, "--tag", tag, "--tag", "note=\x1b]8;;http://evil\x07x\u202e")
    assert created.exit_code == 0, created.output
    table = prov("server", "info", "web", "-o", "table")
    assert table.exit_code == 0, table.output
    # the data as it is: Rich markup is not read, terminal codes are shown, not obeyed
    assert "[link=http://x]OPS-1" in table.stdout
    assert "\x1b" not in table.stdout
    assert "\\x1b]8;;http://evil\\x07x\\u202e" in table.stdout
    # and JSON keeps the exact values
    [row] = prov("server", "list", "-o", "json").json()["servers"]
    assert row["tags"]["ticket"] == "[link=http://x]OPS-1"


def test_plans_and_applies_are_summed_up_as_terraform_does(prov, workspace):
    workspace(FAST)
    two = ("server", "create", "web", "-p", "recording", "--plan", "small", "--zone", "test-1",
           "--count", "2")  # fmt: skip
    plan = prov(*two, "--check", "-o", "table")
    assert plan.exit_code == 0, plan.output
    assert "+ planned" in plan.stdout
    assert plan.stdout.rstrip().endswith(
        "Plan: 2 to add, 0 to change, 0 to destroy. (check mode: nothing was changed)"
    )
    detailed = prov(*two, "--check", "--detailed-exitcode", "-o", "json")
    assert detailed.exit_code == 2, detailed.output  # changes planned
    assert detailed.json()["summary"] == {
        "add": 2, "change": 0, "destroy": 0, "unchanged": 0, "failed": 0
    }  # fmt: skip
    applied = prov(*two, "-o", "table")
    assert applied.exit_code == 0, applied.output
    assert applied.stdout.rstrip().endswith("Apply complete: 2 added, 0 changed, 0 destroyed.")
    gone = prov("server", "delete", "web-1", "--check", "-o", "table")
    assert "- planned" in gone.stdout
    assert "Plan: 0 to add, 0 to change, 1 to destroy." in gone.stdout
    # nothing to do: exit 0 with --detailed-exitcode, and it says so
    install = ("taskserv", "install", "rectask", "-s", "web-2")
    assert prov(*install).exit_code == 0
    again = prov(*install, "--check", "--detailed-exitcode", "-o", "table")
    assert again.exit_code == 0, again.output
    assert "no changes" in again.stdout
    assert "No changes: nothing to do." in again.stdout


def test_the_audit_trail_answers_questions(prov, workspace):
    workspace(FAST)
    assert prov(*CREATE, "--count", "2").exit_code == 0
    assert prov("taskserv", "install", "rectask", "-s", "web-1").exit_code == 0
    trail = prov("operations", "list", "-o", "json").json()["operations"]
    install = next(op for op in trail if op["action"] == "taskserv.install")
    assert install["user"]
    assert install["changed"] is True
    assert install["duration_seconds"] >= 0
    # filters: a target finds its taskservs too, an action by its verb, a time
    by_target = prov("operations", "list", "--target", "web-1", "-o", "json").json()
    assert {op["target"] for op in by_target["operations"]} == {"web-1", "rectask@web-1"}
    by_action = prov("operations", "list", "--action", "create", "-o", "json").json()
    assert {op["action"] for op in by_action["operations"]} == {"server.create"}
    assert prov("operations", "list", "--since", "1h", "-o", "json").json()["operations"]
    future = prov("operations", "list", "--since", "2999-01-01", "-o", "json").json()
    assert future["operations"] == []
    bad = prov("operations", "list", "--since", "yesterday")
    assert bad.exit_code == 2
    assert "@ --since" in bad.stderr
    shown = prov("operations", "show", str(install["id"]), "-o", "json").json()
    assert shown["target"] == "rectask@web-1"
    assert shown["details"]["actions"] == ["download rectask 2.0.0", "install rectask 2.0.0",
                                           "start rectask"]  # fmt: skip
    table = prov("operations", "show", str(install["id"]), "-o", "table")
    assert "details.actions" in table.stdout
    missing = prov("operations", "show", "9999")
    assert missing.exit_code == 2
    assert "no operation 9999" in missing.stderr


def test_server_list_all_includes_the_deleted_ones(prov, workspace):
    workspace(FAST)
    assert prov(*CREATE, "--count", "2").exit_code == 0
    assert prov("server", "delete", "web-1", "--wait").exit_code == 0
    current = prov("server", "list", "-o", "json").json()["servers"]
    assert [r["hostname"] for r in current] == ["web-2"]
    everything = prov("server", "list", "--all", "-o", "json").json()["servers"]
    deleted = [r for r in everything if r["status"] == "deleted"]
    assert [(r["hostname"], r["note"]) for r in deleted] == [("web-1", "deleted")]
