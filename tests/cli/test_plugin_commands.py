"""`prov plugin list` and `prov plugin validate`, in process and as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from click.testing import CliRunner

from provisioning_core.cli import cli


def test_plugin_list_json_shows_every_status(installed):
    result = CliRunner().invoke(cli, ["plugin", "list", "-o", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    rows = {(r["kind"], r["name"], r["version"]): r for r in data["plugins"]}
    assert rows[("provider", "incompatible", "2.0.0")]["status"] == "incompatible"
    assert "provisioning-core>=99" in rows[("provider", "incompatible", "2.0.0")]["reason"]
    assert rows[("provider", "fixture", "1.0.0")]["status"] == "ok"
    assert rows[("provider", "fixture", "1.0.0")]["distribution"] == "prov-fixture-good"
    assert any("'fixture' is provided 2 times" in p for p in data["problems"])


def test_plugin_list_table_and_kind_filter(installed):
    result = CliRunner().invoke(cli, ["plugin", "list", "--kind", "taskserv", "-o", "table"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "KIND", "VERSION", "DISTRIBUTION", "SOURCE", "STATUS"]
    rows = [line.split() for line in lines[2:]]
    # the fixture taskservs, and any real ones installed next to them: taskservs only
    assert {row[0] for row in rows} >= {
        "buildkit",
        "containerd",
        "kubernetes",
        "rectask",
        "rectask-nocheck",
    }
    assert {row[1] for row in rows} == {"taskserv"}


def test_plugin_list_works_in_a_real_process_with_broken_plugins(installed, prov_home):
    env = {**os.environ, "PYTHONPATH": str(installed), "PROV_HOME": str(prov_home)}
    done = subprocess.run(
        [sys.executable, "-m", "provisioning_core", "plugin", "list", "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["plugins"]) >= 15
    assert "Traceback" not in done.stderr


def test_plugin_validate_exit_codes(installed):
    runner = CliRunner()
    good = runner.invoke(cli, ["plugin", "validate", "fixture", "--kind", "provider"])
    assert good.exit_code == 0
    assert "interface   passed" in good.stdout
    bad = runner.invoke(cli, ["plugin", "validate", "misspelled", "--kind", "provider"])
    assert bad.exit_code == 1
    assert "did you mean 'create_server'?" in bad.stderr
    usage = runner.invoke(cli, ["plugin", "validate", "fixture", "--kind", "widget"])
    assert usage.exit_code == 2


def test_any_prov_debug_value_is_accepted(installed, prov_home):
    env = {**os.environ, "PYTHONPATH": str(installed), "PROV_HOME": str(prov_home)}
    args = [sys.executable, "-m", "provisioning_core", "plugin", "list", "-o", "json"]
    for value in ("enabled", "0", "1"):
        done = subprocess.run(
            args, env={**env, "PROV_DEBUG": value}, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr  # PROV_DEBUG is never a usage error


def test_config_show_refuses_what_commands_refuse(prov, workspace):
    workspace(
        '[operations]\nparallelism = "ten"\nhook_timeout = -1\n'
        '[providers.recording.auth]\ntokn = "x"\n'
    )
    shown = prov("config", "show", "-o", "json")
    assert shown.exit_code == 2
    assert shown.json()["config"]["operations"]["parallelism"] == "ten"  # still shown
    assert "expected int, got str @ $.operations.parallelism" in shown.stderr
    assert "@ $.operations.hook_timeout" in shown.stderr
    assert "extra fields found (tokn) @ $.providers.recording.auth" in shown.stderr
    # and a command refuses the same settings, with the same words
    listed = prov("server", "list", "-p", "recording")
    assert listed.exit_code == 2
    assert "@ $.operations.parallelism" in listed.stderr or "tokn" in listed.stderr


def test_config_show_of_valid_settings_exits_0(prov, workspace):
    workspace("[operations]\nparallelism = 4\n")
    shown = prov("config", "show", "-o", "json")
    assert shown.exit_code == 0, shown.output
    assert shown.json()["config"]["operations"]["parallelism"] == 4
