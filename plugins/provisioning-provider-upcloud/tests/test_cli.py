"""`prov server ...` with the upcloud provider, end to end through the real CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

from upcloud_support import PASSWORD, TOKEN, USERNAME, document, prov, results, workspace_toml


def test_lifecycle_create_list_stop_start_reboot_firewall_delete(workspace, emulator):
    code, output = prov(
        "server", "create", "web-1", "--provider", "upcloud", "--wait", "-o", "json"
    )
    assert code == 0, output
    (created,) = results(output)
    assert (created["outcome"], created["status"]) == ("done", "running")
    server_id = created["data"]["id"]
    code, output = prov("server", "list", "-p", "upcloud", "-o", "json")
    assert code == 0, output
    (row,) = document(output)["servers"]
    assert (row["id"], row["hostname"], row["status"], row["where"]) == (
        server_id,
        "web-1",
        "running",
        "both",
    )
    assert row["ip_addresses"][0].startswith("198.18.")
    for action, status in (("stop", "stopped"), ("start", "running"), ("reboot", "running")):
        code, output = prov("server", action, "web-1", "--wait", "-o", "json")
        assert code == 0, output
        assert results(output)[0]["status"] == status
        code, output = prov("server", "info", "web-1", "-o", "json")
        assert document(output)["status"] == status
    code, output = prov(
        "server",
        "firewall",
        "web-1",
        "--rule",
        "in,tcp,22,accept,10.0.0.0/8",
        "--rule",
        "in,tcp,*,drop",
        "-o",
        "json",
    )
    assert code == 0, output
    assert emulator.server(server_id)["firewall"] == "on"
    assert emulator.count("POST", "/firewall_rule$") == 2
    code, output = prov("server", "delete", "web-1", "--wait", "-o", "json")
    assert code == 0, output
    assert results(output)[0]["status"] == "deleted"
    assert emulator.server_ids == []
    assert emulator.storage_ids == []


def test_catalogue_commands(workspace, emulator):
    code, output = prov("server", "plans", "-p", "upcloud", "-o", "json")
    assert code == 0, output
    assert [p["name"] for p in document(output)["plans"]][:2] == ["1xCPU-1GB", "1xCPU-2GB"]
    code, output = prov("server", "zones", "-p", "upcloud", "-o", "json")
    assert {"name": "fi-hel1", "description": "Helsinki #1"} in document(output)["zones"]
    for shape in ("plans", "components"):
        emulator.price_shape = shape
        code, output = prov("server", "pricing", "-p", "upcloud", "-o", "json")
        assert code == 0, output
        assert len(document(output)["pricing"]) == 16


def test_check_mode_sends_no_change(workspace, emulator):
    code, output = prov(
        "server",
        "create",
        "web-1",
        "-p",
        "upcloud",
        "--rule",
        "in,tcp,22,accept",
        "--check",
        "-o",
        "json",
    )
    assert code == 0, output
    (planned,) = results(output)
    assert planned["outcome"] == "planned"
    assert planned["data"]["planned"]["status"] == "creating"
    assert emulator.writes == 0
    assert emulator.server_ids == []


def test_a_create_refused_by_the_core_sends_nothing(workspace, emulator):
    code, output = prov("server", "create", "web-1", "-p", "upcloud", "--zone", "mars-1")
    assert code == 2, output
    assert "unknown zone 'mars-1'" in output
    assert emulator.writes == 0


def test_a_create_the_provider_refuses_leaves_no_record_behind(workspace, emulator):
    code, output = prov("server", "create", "web-1", "-p", "upcloud", "--os", "plan9-4")
    # the core could not check --os before calling the provider: a failed target, and
    # since the provider refused it as bad input (a ConfigError), exit 2
    assert code == 2, output
    assert "UpCloud has no OS template 'plan9-4'" in output
    assert "hint: give --os as one of those" in output
    assert emulator.writes == 0
    # the refusal proved nothing was made: the hostname is free for the next try
    code, output = prov("server", "list", "-p", "upcloud", "-o", "json")
    assert document(output)["servers"] == []
    code, output = prov("server", "create", "web-1", "-p", "upcloud", "-o", "json")
    assert code == 0, output


def test_maintenance_is_waited_out(workspace, emulator):
    emulator.maintenance_seconds = 0.5
    code, output = prov("server", "create", "web-1", "-p", "upcloud", "-o", "json")
    assert code == 0, output
    assert results(output)[0]["status"] == "creating"
    # still being created: the stop waits for it instead of failing
    code, output = prov("server", "stop", "web-1", "--wait", "-o", "json")
    assert code == 0, output
    assert results(output)[0]["status"] == "stopped"
    assert [r.status for r in emulator.requests if r.path.endswith("/stop")] == [200]


def test_429_with_retry_after_is_retried_and_succeeds(workspace, emulator):
    emulator.throttle(2, retry_after=0.3, method="POST")
    code, output = prov("-v", "server", "create", "web-1", "-p", "upcloud", "--wait", "-o", "json")
    assert code == 0, output
    assert results(output)[0]["status"] == "running"
    assert [r.status for r in emulator.requests if r.method == "POST"] == [429, 429, 202]
    # -v logs each retry; the error itself is said once, as the first retry happens
    pauses = [float(p) for p in re.findall(r"transient failure, retry \d+ in ([\d.]+)s", output)]
    assert len(pauses) == 2, output
    assert all(p >= 0.3 for p in pauses)  # Retry-After is the floor of each pause
    assert output.count("TOO_MANY_REQUESTS") == 1, output


def test_server_state_illegal_is_retried(workspace, emulator):
    code, output = prov("server", "create", "web-1", "-p", "upcloud", "--wait", "-o", "json")
    assert code == 0, output
    emulator.illegal_state(2, path=r"/stop$")
    code, output = prov("server", "stop", "web-1", "--wait", "-o", "json")
    assert code == 0, output
    assert [r.status for r in emulator.requests if r.path.endswith("/stop")] == [409, 409, 200]


def test_api_retries_bounds_the_attempts(emulator, monkeypatch):
    monkeypatch.setenv("UPCLOUD_TOKEN", TOKEN)
    Path("provisioning.toml").write_text(
        workspace_toml(emulator.base_url, api="retries = 1"), encoding="utf-8"
    )
    emulator.throttle(2, retry_after=0)
    code, output = prov("server", "zones", "-p", "upcloud", "-o", "json")
    assert code == 1, output
    assert "gave up after 2 attempts" in output
    assert emulator.count("GET", "^/zone$") == 2


def test_an_api_error_shows_upclouds_code_and_message(workspace, emulator):
    emulator.fail(
        402,
        code="INSUFFICIENT_CREDITS",
        message="You do not have enough credits to perform the requested action.",
        method="POST",
        path="^/server$",
    )
    code, output = prov("server", "create", "web-1", "-p", "upcloud")
    assert code == 1, output
    assert (
        "INSUFFICIENT_CREDITS: You do not have enough credits to perform the requested action."
        in output
    )
    assert "hint: add credits to the UpCloud account" in output
    assert "Traceback" not in output


def test_bad_credentials_fail_with_a_clear_error(workspace, emulator, monkeypatch):
    monkeypatch.setenv("UPCLOUD_TOKEN", "a-wrong-token")
    code, output = prov("server", "zones", "-p", "upcloud")
    assert code == 1, output
    assert "AUTHENTICATION_FAILED" in output
    assert "hint: check [providers.upcloud.auth]" in output
    assert "a-wrong-token" not in output


def test_an_unset_token_variable_is_a_usage_error(workspace, monkeypatch):
    monkeypatch.delenv("UPCLOUD_TOKEN")
    code, output = prov("server", "zones", "-p", "upcloud")
    assert code == 2, output
    assert "UPCLOUD_TOKEN" in output


def test_no_credentials_at_all_is_a_usage_error(emulator):
    Path("provisioning.toml").write_text(
        workspace_toml(emulator.base_url, auth=""), encoding="utf-8"
    )
    code, output = prov("server", "zones", "-p", "upcloud")
    assert code == 2, output
    assert "no credentials" in output
    assert emulator.requests == []


def test_username_and_password_from_the_environment(emulator, monkeypatch):
    monkeypatch.setenv("UPCLOUD_USERNAME", USERNAME)
    monkeypatch.setenv("UPCLOUD_PASSWORD", PASSWORD)
    auth = 'username = "${UPCLOUD_USERNAME}"\npassword = "${UPCLOUD_PASSWORD}"'
    Path("provisioning.toml").write_text(
        workspace_toml(emulator.base_url, auth=auth), encoding="utf-8"
    )
    code, output = prov("server", "create", "web-1", "-p", "upcloud", "--wait", "-o", "json")
    assert code == 0, output
    assert {(r.auth, r.authenticated) for r in emulator.requests} == {("basic", True)}
    code, output = prov("server", "delete", "web-1", "--wait", "-o", "json")
    assert code == 0, output
    assert json.loads(json.dumps(results(output)))[0]["status"] == "deleted"
