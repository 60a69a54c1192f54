"""Secrets, retries, timeouts, broken plugins, crashes and concurrent runs, through `prov`."""

from __future__ import annotations

import json
import signal
import time

from tests.cli.conftest import FAST, calls, popen_prov

TOKEN = "tok-5f1c9e-very-secret"
CREATE = ("server", "create", "web", "-p", "recording", "--plan", "small", "--zone", "test-1")


def _secret_config(extra: str = "") -> str:
    return (
        FAST
        + f"""
[providers.recording.auth]
token = "${{REC_API_TOKEN}}"

[providers.recording.options]
expected_token = "{TOKEN}"
{extra}
"""
    )


def _everything_written(prov_home) -> bytes:
    return b"".join(p.read_bytes() for p in prov_home.rglob("*") if p.is_file())


def test_a_secret_from_the_environment_never_shows(
    prov, prov_process, prov_home, workspace, monkeypatch
):
    # the workspace file holds the reference, never the value; the expected token is
    # given to the plugin via its options so it can check what it receives
    workspace(_secret_config('raise_in = ["get_pricing"]'))
    monkeypatch.setenv("REC_API_TOKEN", TOKEN)
    # the plugin got the real token (it checks it) and the create worked
    ok = prov("-vv", *CREATE, "--wait", "-o", "json")
    assert ok.exit_code == 0, ok.output
    # a plugin that puts the token in its exception, with and without --debug,
    # in process and in a real process (where the traceback is printed for real)
    runs = [
        prov("server", "pricing", "-p", "recording"),
        prov("--debug", "server", "pricing", "-p", "recording"),
        prov_process(
            "--debug", "-vv", "server", "pricing", "-p", "recording", env={"REC_API_TOKEN": TOKEN}
        ),
        prov_process(
            "server", "pricing", "-p", "recording", env={"REC_API_TOKEN": TOKEN, "PROV_DEBUG": "1"}
        ),
        prov("config", "show", "-o", "json"),
        prov("config", "show", "-o", "yaml", "--sources"),
        prov("server", "list", "-o", "yaml"),
        prov("operations", "list", "-o", "json"),
    ]
    assert "get_pricing raised RuntimeError: boom with token ********" in runs[0].stderr
    assert runs[0].exit_code == 1
    assert "Traceback" in runs[1].stderr
    assert "Traceback" in runs[2].stderr
    assert "********" in runs[4].stdout
    for run in runs:
        text = run.stdout + run.stderr
        assert TOKEN not in text, text
    assert TOKEN.encode() not in _everything_written(prov_home)


def test_a_wrong_token_is_reported_without_showing_either(prov, workspace, monkeypatch):
    workspace(_secret_config())
    monkeypatch.setenv("REC_API_TOKEN", "wrong-" + TOKEN)
    result = prov(*CREATE)
    assert result.exit_code == 1
    assert "PermissionError: bad token" in result.stderr
    assert TOKEN not in result.stderr


def test_transient_failures_are_retried_with_backoff(prov, prov_home, workspace):
    workspace(FAST + "\n[providers.recording.options]\ntransient_failures = 2\n")
    result = prov("-v", *CREATE, "-o", "json")
    assert result.exit_code == 0, result.output
    assert result.json()["results"][0]["outcome"] == "done"
    assert [c["hook"] for c in calls(prov_home)].count("create_server") == 3
    # the error is said once, as the first retry happens; its repeat is not printed again
    assert "create_server: busy, try again; retry 1 in" in result.stderr
    assert result.stderr.count("busy, try again") == 1, result.stderr
    # the log (-v) still has every retry
    assert "transient failure, retry 2" in result.stderr


def test_retries_give_up_after_the_configured_attempts(prov, prov_home, workspace):
    workspace(FAST + "retry_attempts = 2\n[providers.recording.options]\ntransient_failures = 5\n")
    result = prov(*CREATE)
    assert result.exit_code == 1
    assert "busy, try again (gave up after 2 attempts)" in result.stderr
    assert [c["hook"] for c in calls(prov_home)].count("create_server") == 2
    # the refused create left no server record behind
    assert "web" not in prov("server", "list", "-o", "json").stdout


def test_a_providers_api_retries_overrides_the_operations_attempts(prov, prov_home, workspace):
    workspace(
        FAST
        + "retry_attempts = 9\n[providers.recording.api]\nretries = 1\n"
        + "[providers.recording.options]\ntransient_failures = 5\n"
    )
    result = prov(*CREATE)
    assert result.exit_code == 1
    assert "(gave up after 2 attempts)" in result.stderr
    assert "providers.recording.api.retries" in result.stderr
    assert [c["hook"] for c in calls(prov_home)].count("create_server") == 2


def test_a_hung_hook_times_out_and_other_commands_keep_working(prov, workspace):
    workspace(
        FAST
        + 'hook_timeout = 0.5\n[providers.recording.options]\nhang = ["get_zones"]\nhang_seconds = 20\n'
    )
    hung = prov("server", "zones", "-p", "recording")
    assert hung.exit_code == 1
    assert (
        "provider 'recording' (prov-fixture-recording 1.0.0): get_zones did not return within 0.5 s"
        in hung.stderr
    )
    assert "operations.hook_timeout" in hung.stderr
    assert prov("server", "plans", "-p", "recording").exit_code == 0


def test_malformed_results_and_broken_plugins_are_named(prov, workspace):
    workspace(FAST + '[providers.recording.options]\nmalformed_in = ["get_plans"]\n')
    bad = prov("server", "plans", "-p", "recording")
    assert bad.exit_code == 1
    assert "provider 'recording' (prov-fixture-recording 1.0.0)" in bad.stderr
    assert "get_plans" in bad.stderr
    broken = prov("server", "list", "-p", "broken-import")
    assert broken.exit_code == 1
    assert "broken-import" in broken.stderr
    assert "Traceback" not in broken.stderr
    unknown = prov("server", "list", "-p", "nosuch")
    assert unknown.exit_code == 2
    assert prov("plugin", "list", "-o", "json").exit_code == 0


def _wait_for(predicate, proc, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            raise AssertionError(f"prov exited {proc.returncode}: {proc.communicate()}")
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def _finish(*procs):
    """Kill what still runs and close every pipe: no process or file is left behind."""
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def test_a_process_killed_mid_create_is_reported_by_the_next_run(
    prov, installed, prov_home, workspace
):
    workspace(FAST + "\n[providers.recording.options]\ncreate_latency = 60\n")
    proc = popen_prov(installed, *CREATE)
    try:
        _wait_for(lambda: any(c["hook"] == "create_server" for c in calls(prov_home)), proc)
        proc.kill()
        proc.wait(timeout=10)
    finally:
        _finish(proc)
    listed = prov("server", "list", "-p", "recording", "-o", "json")
    assert listed.exit_code == 0, listed.output
    assert "an earlier run was interrupted: server.create web on recording" in listed.stderr
    assert "prov operations ack" in listed.stderr
    (row,) = listed.json()["servers"]
    assert row["hostname"] == "web"
    assert row["where"] == "inventory"
    assert "creation was interrupted" in row["note"]
    # reported by every run until acknowledged
    assert "interrupted" in prov("server", "plans", "-p", "recording").stderr
    assert prov("operations", "ack", "--all").exit_code == 0
    assert "interrupted" not in prov("server", "plans", "-p", "recording").stderr
    # the hostname is not blocked for good: deleting drops the record of what never existed
    workspace(FAST)
    assert prov(*CREATE).exit_code == 2
    dropped = prov("server", "delete", "web", "-o", "json")
    assert dropped.exit_code == 0, dropped.output
    assert "its creation was interrupted" in dropped.json()["results"][0]["actions"][0]
    assert prov(*CREATE).exit_code == 0


def test_two_concurrent_writers_serialize_or_fail_clearly(installed, prov_home, workspace):
    workspace(FAST + "lock_timeout = 0.5\n[providers.recording.options]\ncreate_latency = 3\n")
    first = popen_prov(
        installed, "server", "create", "a", "-p", "recording", "--plan", "small", "--zone", "test-1"
    )
    try:
        _wait_for(lambda: any(c["hook"] == "create_server" for c in calls(prov_home)), first)
        second = popen_prov(
            installed,
            "server",
            "create",
            "b",
            "-p",
            "recording",
            "--plan",
            "small",
            "--zone",
            "test-1",
        )
        _, err = second.communicate(timeout=60)
        assert second.returncode == 1, err
        assert f"is locked by pid {first.pid}" in err
        assert "prov server create a" in err
        _, err = first.communicate(timeout=60)
        assert first.returncode == 0, err
    finally:
        _finish(first)
    # with a longer lock timeout the second waits its turn instead
    workspace(FAST + "lock_timeout = 30\n[providers.recording.options]\ncreate_latency = 1\n")
    procs = [
        popen_prov(
            installed,
            "server",
            "create",
            n,
            "-p",
            "recording",
            "--plan",
            "small",
            "--zone",
            "test-1",
        )
        for n in ("c", "d")
    ]
    try:
        for p in procs:
            _, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
    finally:
        _finish(*procs)
    store = json.loads((prov_home / "recording" / "recording.json").read_text())
    assert sorted(s["hostname"] for s in store["servers"].values()) == ["a", "c", "d"]


def test_ctrl_c_lets_work_in_flight_finish_and_record_itself(installed, prov_home, workspace, prov):
    workspace(
        "[operations]\nwait_interval = 0.2\n[providers.recording.options]\nboot_polls = 100000\n"
    )
    proc = popen_prov(installed, *CREATE, "--count", "2", "--wait", "-o", "json")
    try:
        _wait_for(lambda: [c["hook"] for c in calls(prov_home)].count("get_server_info") >= 2, proc)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        _finish(proc)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    report = json.loads(out)
    assert report["interrupted"] is True
    assert [r["status"] for r in report["results"]] == ["creating", "creating"]
    # the report and the audit trail tell the truth: asked for, never seen running
    assert [r["outcome"] for r in report["results"]] == ["interrupted", "interrupted"]
    assert report["ok"] is False
    # both servers are in the inventory, with their ids: nothing was lost
    listed = prov("server", "list", "-o", "json")
    rows = listed.json()["servers"]
    assert sorted(r["hostname"] for r in rows) == ["web-1", "web-2"]
    assert all(r["id"] for r in rows)
    trail = prov("operations", "list", "-o", "json").json()["operations"]
    creates = [op for op in trail if op["action"] == "server.create"]
    assert [op["status"] for op in creates] == ["interrupted", "interrupted"]
    assert all("stopped waiting" in op["error"] for op in creates)
    assert "an earlier run was interrupted: server.create web-" in listed.stderr


def test_ctrl_c_during_taskserv_install_wait_is_recorded_interrupted(
    prov, installed, prov_home, workspace
):
    workspace(FAST + "\n[taskservs.rectask]\nboot_polls = 100000\n")
    assert prov(*CREATE).exit_code == 0
    proc = popen_prov(
        installed, "taskserv", "install", "rectask", "-s", "web", "--wait", "-o", "json"
    )
    try:
        _wait_for(
            lambda: [c["hook"] for c in calls(prov_home, "rectask")].count("status") >= 2, proc
        )
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        _finish(proc)
    assert proc.returncode == 130, err
    [result] = json.loads(out)["results"]
    assert result["outcome"] == "interrupted"
    trail = prov("operations", "list", "-o", "json").json()["operations"]
    [install] = [op for op in trail if op["action"] == "taskserv.install"]
    assert install["status"] == "interrupted"


def test_a_create_that_fails_after_the_provider_made_the_server_loses_nothing(prov, workspace):
    workspace(FAST + '\n[providers.recording.options]\nraise_after = ["create_server"]\n')
    failed = prov(*CREATE)
    assert failed.exit_code == 1
    # the record is kept, and the next list finds the server and adopts it
    rows = prov("server", "list", "-p", "recording", "-o", "json").json()["servers"]
    assert [(r["hostname"], r["where"]) for r in rows] == [("web", "both")]
    assert rows[0]["id"]
    # and the hostname cannot be used twice at the provider
    again = prov(*CREATE)
    assert again.exit_code == 2
    assert "web exists" in again.stderr


def test_yaml_output_of_records_with_enums(prov, workspace):
    import yaml

    workspace(FAST + '\n[clusters.ci]\ntype = "reccluster"\n')
    created = prov(*CREATE, "-o", "yaml")
    assert created.exit_code == 0, created.output
    assert yaml.safe_load(created.stdout)["results"][0]["data"]["status"] == "creating"
    assert yaml.safe_load(prov("server", "info", "web", "-o", "yaml").stdout)["status"] == "running"
    components = yaml.safe_load(prov("cluster", "components", "ci", "-o", "yaml").stdout)
    assert components["components"][0]["kind"] == "taskserv"


def test_a_short_secret_masks_no_ordinary_word_and_is_warned_about_once(prov, workspace):
    workspace(FAST + '\n[providers.recording.options]\napi_secret = "test"\n')
    zones = prov("server", "zones", "-p", "recording", "-o", "json")
    assert zones.exit_code == 0, zones.output
    # "test" is the secret: the zones test-1 and test-2 are still printed as they are
    assert [z["name"] for z in zones.json()["zones"]] == ["test-1", "test-2"]
    warnings = [line for line in zones.stderr.splitlines() if line.startswith("warning:")]
    expected = (
        "warning: the secret at $.providers.recording.options.api_secret is shorter than 8 "
        "characters: prov cannot mask it in output without masking ordinary words, and it is "
        "easy to guess"
    )
    assert warnings == [expected]


def test_a_partial_server_list_exits_1_unless_allowed(prov, workspace):
    workspace(FAST)
    assert prov(*CREATE).exit_code == 0
    workspace(FAST + '\n[providers.recording.options]\nraise_in = "list_servers"\n')
    partial = prov("server", "list", "-o", "json")
    assert partial.exit_code == 1
    # the rows are still printed, from the inventory, and say so
    [row] = partial.json()["servers"]
    assert (row["hostname"], row["note"]) == ("web", "provider unavailable")
    assert "warning: provider 'recording':" in partial.stderr
    assert "error: the list is partial: 1 provider(s) did not answer" in partial.stderr
    assert "--allow-partial" in partial.stderr
    allowed = prov("server", "list", "--allow-partial", "-o", "json")
    assert allowed.exit_code == 0, allowed.output
    assert "error:" not in allowed.stderr


def test_an_argument_that_is_not_utf8_is_exit_2_naming_the_parameter(prov, prov_home, workspace):
    workspace(FAST)
    assert prov(*CREATE).exit_code == 0
    # argv bytes that are not UTF-8 reach Python as lone surrogates: no inventory query
    # can hold them, so they are a bad value of the parameter, not an internal error
    for args, field in [
        (("server", "firewall", "w\udcffb", "--rule", "in,tcp,22,accept"), "'SERVER': 'w\\xffb'"),
        (
            ("server", "create", "web2", "-p", "recording", "--tag", "k=\udcff"),
            "'--tag': 'k=\\xff'",
        ),
        (("taskserv", "install", "rectask", "-s", "\udcff"), "'--server' / '-s': '\\xff'"),
    ]:
        refused = prov(*args)
        assert refused.exit_code == 2, refused.output
        assert f"Invalid value for {field} is not UTF-8 text" in refused.stderr, refused.stderr
    assert not [c for c in calls(prov_home) if c["hook"] == "configure_firewall"]


def test_a_count_too_large_is_refused_before_a_name_is_made(prov, workspace):
    workspace(FAST)
    # 2**70 names were built before the first was checked: memory without bound
    huge = prov(*CREATE[:3], "-p", "recording", "--plan", "small", "--count", str(2**70))
    assert huge.exit_code == 2, huge.output
    assert "is more than 1000 @ --count" in huge.stderr


def test_operations_list_takes_any_limit(prov, workspace):
    workspace(FAST)
    # beyond what SQLite counts it means every operation, not an OverflowError
    listed = prov("operations", "list", "--limit", str(2**64), "-o", "json")
    assert listed.exit_code == 0, listed.output
