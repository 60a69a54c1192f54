"""The recording fixture plugins (tests/fixtures/dists/recording) behave as documented.

They are fixtures for the CLI and operations tests, so these checks stay brief.
"""

from __future__ import annotations

import json

import pytest

from provisioning_core import (
    ClusterConfig,
    ExtensionManager,
    PluginCallError,
    ProviderAuth,
    ProviderSettings,
    Secret,
    Server,
    ServerConfig,
    ServerNotFound,
    ServerStatus,
    TransientError,
)

CONFIG = ServerConfig("web1", "small", "test-1")
HOST = Server("rec-abc123", "web1", "running")


def load(kind, name):
    return ExtensionManager().load_extension(kind, name)  # a fresh manager, no cache


def calls(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_servers_persist_across_managers_and_settle_after_polls(installed, prov_home):
    settings = ProviderSettings("recording", options={"boot_polls": 2})
    server = load("provider", "recording").call(
        "create_server", settings=settings, config=CONFIG, check=False
    )
    assert server.id.startswith("rec-")
    assert server.status is ServerStatus.CREATING
    other = load("provider", "recording")
    assert [s.id for s in other.call("list_servers", settings=settings)] == [server.id]
    info = [
        other.call("get_server_info", settings=settings, server_id=server.id).status
        for _ in range(3)
    ]
    assert info == ["creating", "running", "running"]
    other.call("delete_server", settings=settings, server_id=server.id)
    other.call("get_server_info", settings=settings, server_id=server.id)  # still deleting
    with pytest.raises(ServerNotFound):
        other.call("get_server_info", settings=settings, server_id=server.id)
    log = calls(prov_home / "recording" / "recording.json.calls.jsonl")
    assert log[0]["hook"] == "create_server"
    assert log[0]["check"] is False
    assert log[0]["hostname"] == "web1"


def test_check_mode_changes_nothing(installed, prov_home):
    settings = ProviderSettings("recording")
    planned = load("provider", "recording").call(
        "create_server", settings=settings, config=CONFIG, check=True
    )
    assert (planned.id, planned.status) == ("(planned)", ServerStatus.CREATING)
    assert not (prov_home / "recording" / "recording.json").exists()
    assert calls(prov_home / "recording" / "recording.json.calls.jsonl")[0]["check"] is True
    rectask = load("taskserv", "rectask")
    plan = rectask.call("install", server=HOST, version=None, settings={}, check=True)
    assert plan.changed
    assert "download rectask 2.0.0" in plan.actions
    status = rectask.call("status", server=HOST, settings={})
    assert not status.installed


def test_transient_failures_are_counted_in_the_store(installed):
    settings = ProviderSettings("recording", options={"transient_failures": 2, "retry_after": 0.5})
    for _ in range(2):
        with pytest.raises(TransientError) as raised:
            load("provider", "recording").call(
                "create_server", settings=settings, config=CONFIG, check=False
            )
        assert raised.value.retry_after == 0.5
    server = load("provider", "recording").call(
        "create_server", settings=settings, config=CONFIG, check=False
    )
    assert server.hostname == "web1"


def test_raise_in_leaks_the_token_which_the_core_masks(installed):
    settings = ProviderSettings(
        "recording",
        auth=ProviderAuth(token=Secret("s3cret-token")),
        options={"raise_in": ["get_plans"]},
    )
    with pytest.raises(PluginCallError) as raised:
        load("provider", "recording").call("get_plans", settings=settings)
    assert "boom with token" in str(raised.value)
    assert "s3cret-token" not in str(raised.value)


def test_nocheck_lacks_check_and_optional_hooks(installed, prov_home):
    nocheck = load("provider", "nocheck")
    assert load("provider", "recording").accepts("create_server", "check")
    assert not nocheck.accepts("create_server", "check")
    assert not nocheck.implements("configure_firewall")
    assert set(nocheck.unsupported) == {"configure_firewall", "get_pricing", "get_ssh_access"}
    settings = ProviderSettings("nocheck", options={"boot_polls": 0})
    server = nocheck.call("create_server", settings=settings, config=CONFIG)
    assert (prov_home / "recording" / "nocheck.json").exists()
    nocheck.call("delete_server", settings=settings, server_id=server.id)  # at once
    assert nocheck.call("list_servers", settings=settings) == []
    assert not load("taskserv", "rectask-nocheck").accepts("install", "check")


def test_rectask_install_is_idempotent(installed):
    first = load("taskserv", "rectask").call(
        "install", server=HOST, version=None, settings={}, check=False
    )
    assert first.changed
    assert first.actions[-1] == "start rectask"
    rectask = load("taskserv", "rectask")
    again = rectask.call("install", server=HOST, version="2.0.0", settings={}, check=False)
    assert not again.changed
    assert rectask.call("get_current_version", server=HOST, settings={}) == "2.0.0"
    versions = rectask.call("get_available_versions", settings={})
    assert [v.version for v in versions] == ["2.0.0", "1.1.0", "1.0.0"]


def test_reccluster_components_in_dependency_order(installed):
    reccluster = load("cluster", "reccluster")
    info = reccluster.call("cluster_info")
    assert [(c.name, c.depends_on) for c in info.components] == [
        ("db", []),
        ("api", ["db"]),
        ("web", ["api"]),
    ]
    config = ClusterConfig("c1")
    created = reccluster.call("create", config=config, check=False)
    assert created.actions == ["deploy db", "deploy api", "deploy web"]
    reccluster.call("scale", config=config, component="api", replicas=3, check=False)
    status = load("cluster", "reccluster").call("status", config=config)
    assert status.status == "running"
    assert [c.message for c in status.components] == ["1 replicas", "3 replicas", "1 replicas"]
    with pytest.raises(PluginCallError, match="no component 'cache'"):
        reccluster.call("component_status", config=config, component="cache")
