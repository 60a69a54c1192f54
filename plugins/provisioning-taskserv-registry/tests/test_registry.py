"""The registry installed from (fake) GitHub releases into local sandboxes over real SSH."""

from __future__ import annotations

import hashlib
import socket
import urllib.request
from pathlib import Path

import pytest
from provisioning_core import (
    ConfigError,
    ExtensionManager,
    TransientError,
    connect,
    validate_extension,
)
from provisioning_core.operations.taskservs import (
    check_updates,
    taskserv_status,
    taskserv_versions,
)
from provisioning_core.testing import free_port
from provisioning_core.testing import sandbox_processes as processes
from provisioning_core.testing import sandbox_tree as tree

from provisioning_taskserv_registry import plugin
from provisioning_taskserv_registry import testing as fakes
from provisioning_taskserv_registry.settings import Settings, parse_settings

PROJECT = Path(__file__).resolve().parents[1]
ARCH = "amd64"


@pytest.fixture
def releases(mirror):
    mirror.add_release(fakes.REPO, "v2.8.3", fakes.assets("2.8.3", ARCH))
    mirror.add_release(fakes.REPO, "v3.0.0", fakes.assets("3.0.0", ARCH))
    mirror.add_release(
        fakes.REPO, "v3.1.0-beta.1", fakes.assets("3.1.0-beta.1", ARCH), prerelease=True
    )
    return mirror


@pytest.fixture
def box(lab, releases):
    sandbox = lab.create("reg-1")
    with connect(sandbox.server, sandbox.ssh) as host:
        assert host.arch == ARCH, "the fake releases are built for amd64 sandboxes"
    address = sandbox.server.ip_addresses[0]
    assert address != "127.0.0.1"
    lab.use("registry", port=free_port(address))
    return sandbox


def v2(box, lab):
    """GET /v2/ on the sandbox's own address: the status and the fake's version header."""
    url = f"http://{box.server.ip_addresses[0]}:{lab.settings['registry']['port']}/v2/"
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.headers["X-Fake-Registry-Version"]


def status_of(lab, box):
    with lab.engine() as engine:
        (row,) = taskserv_status(engine, "registry", [box.hostname])
    return row


def test_project_is_valid():
    report = validate_extension(PROJECT, "taskserv", strict=True)
    assert report.valid, report.errors


def test_every_hook_is_implemented_and_mutating_ones_accept_check():
    manager = ExtensionManager.make_test_instance({("taskserv", "registry"): plugin})
    ext = manager.load_extension("taskserv", "registry")
    assert ext.unsupported == []
    for hook in ("install", "uninstall", "configure", "restart", "upgrade"):
        assert ext.accepts(hook, "check"), hook
    info = ext.call("taskserv_info")
    assert (info.health_check.type, info.health_check.endpoint) == ("http", "/v2/")
    assert info.service.ports == [5000]
    assert info.source.repository == "distribution/distribution"


def test_install_serves_on_the_sandbox_address_and_again_changes_nothing(lab, box, mirror):
    result = lab.run("install", "registry", box)
    assert result.outcome == "done", result
    assert result.data["message"] == "installed registry 3.0.0"
    assert v2(box, lab) == (200, "3.0.0")
    port = lab.settings["registry"]["port"]
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass  # bound to the sandbox's address only
    root = box.root
    config = (root / "etc/distribution/config.yml").read_text()
    assert f'addr: "{box.server.ip_addresses[0]}:{port}"' in config
    assert f"rootdirectory: {root}/var/lib/registry" in config
    assert (root / "usr/local/bin/registry").readlink() == root / "opt/registry/3.0.0/registry"
    assert not (root / "usr/local/bin/LICENSE").exists()
    assert (root / "etc/distribution/.prov-version").read_text() == "3.0.0\n"

    row = status_of(lab, box)
    assert (row["installed"], row["running"], row["healthy"], row["version"]) == (
        True,
        True,
        True,
        "3.0.0",
    )
    assert row["memory_mb"] > 0
    assert row["uptime_seconds"] >= 0

    again = lab.run("install", "registry", box, version="3.0.0")
    assert again.outcome == "unchanged", again


def test_check_mode_changes_nothing(lab, box, mirror):
    before = (tree(box.root), processes(box.root))
    planned = lab.run("install", "registry", box, check=True)
    assert planned.outcome == "planned"
    assert "would create /etc/distribution/config.yml" in planned.actions
    assert (tree(box.root), processes(box.root)) == before
    assert not [p for p in mirror.requests if p.endswith(".tar.gz")]

    assert lab.run("install", "registry", box, version="2.8.3").outcome == "done"
    before = (tree(box.root), processes(box.root))
    for action, kwargs in (
        ("upgrade", {"version": "3.0.0"}),
        ("uninstall", {"keep_data": False}),
        ("restart", {}),
        ("configure", {}),
    ):
        assert lab.run(action, "registry", box, check=True, **kwargs).ok, action
        assert (tree(box.root), processes(box.root)) == before, action
    assert v2(box, lab) == (200, "2.8.3")


def test_a_wrong_checksum_refuses_to_install(lab, box, mirror):
    name = fakes.asset_name("3.0.0", ARCH)
    real = fakes.release("3.0.0")
    wrong = hashlib.sha256(b"tampered").hexdigest()
    mirror.add_release(
        fakes.REPO,
        "v3.0.0",
        {name: real, fakes.checksums_name("3.0.0"): f"{wrong}  {name}\n".encode()},
    )
    result = lab.run("install", "registry", box, version="3.0.0")
    assert result.outcome == "failed"
    assert mirror.asset_url(fakes.REPO, "v3.0.0", name) in result.error
    assert f"expected {wrong}" in result.error
    assert hashlib.sha256(real).hexdigest() in result.error
    assert not (box.root / "etc/distribution").exists()
    assert status_of(lab, box)["installed"] is False


def test_upgrade_between_two_versions(lab, box):
    assert lab.run("install", "registry", box, version="2.8.3").outcome == "done"
    assert v2(box, lab) == (200, "2.8.3")
    with lab.engine() as engine:
        (update,) = check_updates(engine, "registry", [box.hostname])
    assert update["update_available"] is True
    assert update["latest"] == "3.0.0"
    result = lab.run("upgrade", "registry", box, version="3.0.0")
    assert result.outcome == "done", result
    assert v2(box, lab) == (200, "3.0.0")
    assert not (box.root / "opt/registry/2.8.3").exists()
    with lab.engine() as engine:
        (update,) = check_updates(engine, "registry", [box.hostname])
    assert (update["update_available"], update["message"]) == (False, "up to date")


def test_uninstall_keeping_data_and_not(lab, box):
    assert lab.run("install", "registry", box).outcome == "done"
    storage = box.root / "var/lib/registry/docker/registry/v2"
    assert storage.is_dir()
    result = lab.run("uninstall", "registry", box, keep_data=True)
    assert result.outcome == "done"
    assert storage.is_dir()
    assert not (box.root / "opt/registry").exists()
    assert not (box.root / "etc/distribution").exists()
    assert not [cmd for _, cmd in processes(box.root) if "registry" in cmd]
    with pytest.raises(OSError):
        v2(box, lab)
    assert lab.run("install", "registry", box).outcome == "done"
    assert lab.run("uninstall", "registry", box, keep_data=False).outcome == "done"
    assert not (box.root / "var/lib/registry").exists()
    assert status_of(lab, box)["installed"] is False


def test_versions_from_the_api_and_a_rate_limit(lab, releases):
    lab.use("registry")
    with lab.engine() as engine:
        assert [v.version for v in taskserv_versions(engine, "registry")] == ["3.0.0", "2.8.3"]
    releases.fail_next("/repos/", 429, {"Retry-After": "1"})
    with pytest.raises(TransientError) as caught:
        plugin.get_available_versions({"api_url": releases.api_url})
    assert (caught.value.status, caught.value.retry_after) == (429, 1.0)


def test_settings_defaults_and_problems():
    assert parse_settings({}) == Settings()
    assert parse_settings({"checksums": ""}).checksums == ""
    with pytest.raises(ConfigError) as caught:
        parse_settings({"port": 0, "delete_enabled": "yes", "log_level": "loud", "token": 3})
    problems = caught.value.problems
    assert "invalid port 0: expected 1-65535 @ taskservs.registry.port" in problems
    assert "expected true or false, got str @ taskservs.registry.delete_enabled" in problems
    assert "expected a string, got int @ taskservs.registry.token" in problems
    assert any(p.endswith("@ taskservs.registry.log_level") for p in problems)
