"""containerd installed from (fake) GitHub releases into local sandboxes over real SSH."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from provisioning_core import (
    ConfigError,
    ExtensionManager,
    ProvisioningError,
    TransientError,
    connect,
    validate_extension,
)
from provisioning_core.operations.taskservs import (
    check_updates,
    taskserv_status,
    taskserv_versions,
)
from provisioning_core.testing import sandbox_processes as processes
from provisioning_core.testing import sandbox_tree as tree

from provisioning_taskserv_containerd import plugin
from provisioning_taskserv_containerd import testing as fakes
from provisioning_taskserv_containerd.settings import Settings, parse_settings

PROJECT = Path(__file__).resolve().parents[1]
ARCH = "amd64"  # what the sandboxes on this machine report is checked below


@pytest.fixture
def releases(mirror):
    """Two stable releases and a prerelease, as containerd publishes them."""
    mirror.add_release(fakes.REPO, "v1.7.13", fakes.assets("1.7.13", ARCH))
    mirror.add_release(fakes.REPO, "v2.0.0", fakes.assets("2.0.0", ARCH))
    mirror.add_release(fakes.REPO, "v2.1.0-rc.0", fakes.assets("2.1.0-rc.0", ARCH), prerelease=True)
    return mirror


@pytest.fixture
def box(lab, releases):
    lab.use("containerd")
    sandbox = lab.create("ctr-1")
    with connect(sandbox.server, sandbox.ssh) as host:
        assert host.arch == ARCH, "the fake releases are built for amd64 sandboxes"
    return sandbox


def status_of(lab, box):
    with lab.engine() as engine:
        (row,) = taskserv_status(engine, "containerd", [box.hostname])
    return row


def ctr_version(box, version):
    """What the installed ``ctr`` says (it asks the daemon over the socket)."""
    with connect(box.server, box.ssh) as host:
        ctr = host.path(f"/opt/containerd/{version}/bin/ctr")
        return host.run(
            f"{ctr} --address {host.path('/run/containerd/containerd.sock')} version"
        ).text()


def diff_lines(data: dict) -> list[str]:
    """Every diff line of a result's changes (its ``data.changes``)."""
    return [line for c in data.get("changes", []) if c["diff"] for line in c["diff"].split("\n")]


def test_project_is_valid():
    report = validate_extension(PROJECT, "taskserv", strict=True)
    assert report.valid, report.errors


def test_every_hook_is_implemented_and_mutating_ones_accept_check():
    manager = ExtensionManager.make_test_instance({("taskserv", "containerd"): plugin})
    ext = manager.load_extension("taskserv", "containerd")
    assert ext.unsupported == []
    for hook in ("install", "uninstall", "configure", "restart", "upgrade"):
        assert ext.accepts(hook, "check"), hook
    info = ext.call("taskserv_info")
    assert info.health_check.type == "command"
    assert info.source.repository == "containerd/containerd"
    assert info.dependencies == []


def test_install_runs_healthy_and_installing_again_changes_nothing(lab, box, mirror):
    result = lab.run("install", "containerd", box)
    assert result.outcome == "done", result
    assert result.data["message"] == "installed containerd 2.0.0"  # the latest stable
    root = box.root
    assert (root / "etc/containerd/.prov-version").read_text() == "2.0.0\n"
    assert (root / "usr/local/bin/ctr").readlink() == root / "opt/containerd/2.0.0/bin/ctr"
    assert (root / "run/containerd/containerd.sock").is_socket()
    config = (root / "etc/containerd/config.toml").read_text()
    assert "version = 3" in config  # containerd 2 reads config version 3
    assert f'address = "{root}/run/containerd/containerd.sock"' in config
    assert "Server:\n  Version:  v2.0.0" in ctr_version(box, "2.0.0")

    row = status_of(lab, box)
    assert row["installed"] is True
    assert row["running"] is True
    assert row["healthy"] is True
    assert row["version"] == "2.0.0"
    assert row["uptime_seconds"] >= 0
    assert row["memory_mb"] > 0

    downloads = [p for p in mirror.requests if p.endswith(".tar.gz")]
    again = lab.run("install", "containerd", box, version="2.0.0")
    assert again.outcome == "unchanged", again
    assert again.data["message"] == "containerd 2.0.0 is already installed"
    # nothing fetched again: the server's file already has the digest
    assert [p for p in mirror.requests if p.endswith(".tar.gz")] == downloads


def test_check_mode_changes_nothing(lab, box, mirror):
    before = (tree(box.root), processes(box.root))
    planned = lab.run("install", "containerd", box, check=True, version="1.7.13")
    assert planned.outcome == "planned"
    assert "would create /etc/containerd/config.toml" in planned.actions
    assert "would install service containerd, start service containerd" in planned.actions
    assert (tree(box.root), processes(box.root)) == before
    assert not [p for p in mirror.requests if p.endswith(".tar.gz")]

    assert lab.run("install", "containerd", box, version="1.7.13").outcome == "done"
    before = (tree(box.root), processes(box.root))
    for action, kwargs in (
        ("upgrade", {"version": "2.0.0"}),
        ("uninstall", {}),
        ("restart", {}),
        ("install", {"version": "1.7.13"}),
    ):
        result = lab.run(action, "containerd", box, check=True, **kwargs)
        assert result.ok, (action, result)
        assert (tree(box.root), processes(box.root)) == before, action
    upgrade = lab.run("upgrade", "containerd", box, check=True, version="2.0.0")
    assert "-version = 2" in diff_lines(upgrade.data)
    assert "+version = 3" in diff_lines(upgrade.data)
    lab.use("containerd", log_level="debug")
    configure = lab.run("configure", "containerd", box, check=True)
    assert configure.outcome == "planned"
    assert '+  level = "debug"' in diff_lines(configure.data)
    assert (tree(box.root), processes(box.root)) == before


def test_a_wrong_checksum_refuses_to_install(lab, box, mirror):
    name = fakes.asset_name("1.7.13", ARCH)
    real = fakes.release("1.7.13")
    wrong = hashlib.sha256(b"something else").hexdigest()
    mirror.add_release(
        fakes.REPO,
        "v1.7.13",
        {name: real, f"{name}.sha256sum": f"{wrong}  {name}\n".encode()},
    )
    result = lab.run("install", "containerd", box, version="1.7.13")
    assert result.outcome == "failed"
    assert mirror.asset_url(fakes.REPO, "v1.7.13", name) in result.error
    assert f"expected {wrong}" in result.error
    assert hashlib.sha256(real).hexdigest() in result.error
    assert not (box.root / "opt/containerd/1.7.13" / name).exists()
    assert not (box.root / "etc/containerd").exists()
    assert status_of(lab, box)["installed"] is False


def test_no_checksum_asset_needs_a_pinned_digest(lab, box, mirror):
    assets = fakes.assets("1.7.13", ARCH, checksum=False)
    mirror.add_release(fakes.REPO, "v1.7.13", assets)
    result = lab.run("install", "containerd", box, version="1.7.13")
    assert result.outcome == "failed"
    assert "has no checksum asset" in result.error
    assert "refusing to install a download that cannot be verified" in result.error
    assert '[taskservs.containerd] sha256 = "<sha256>"' in result.hint
    assert not (box.root / "opt/containerd").exists()

    (data,) = assets.values()
    lab.use("containerd", sha256={"1.7.13": hashlib.sha256(data).hexdigest()})
    assert lab.run("install", "containerd", box, version="1.7.13").outcome == "done"
    assert status_of(lab, box)["healthy"] is True


def test_upgrade_between_two_versions(lab, box):
    assert lab.run("install", "containerd", box, version="1.7.13").outcome == "done"
    with lab.engine() as engine:
        (update,) = check_updates(engine, "containerd", [box.hostname])
    assert (update["current"], update["latest"], update["update_available"]) == (
        "1.7.13",
        "2.0.0",
        True,
    )
    pid_before = {pid for pid, cmd in processes(box.root) if "bin/containerd " in cmd}

    result = lab.run("upgrade", "containerd", box, version="2.0.0")
    assert result.outcome == "done", result
    assert result.data["message"] == "upgraded containerd 1.7.13 -> 2.0.0"
    assert "remove /opt/containerd/1.7.13" in result.actions
    assert not (box.root / "opt/containerd/1.7.13").exists()
    assert "Server:\n  Version:  v2.0.0" in ctr_version(box, "2.0.0")
    running = [cmd for _, cmd in processes(box.root) if "bin/containerd " in cmd]
    assert len(running) == 1, running  # restarted on the new binary, the old one stopped
    assert "/opt/containerd/2.0.0/bin/containerd " in running[0]
    pid_after = {pid for pid, cmd in processes(box.root) if "bin/containerd " in cmd}
    assert pid_after.isdisjoint(pid_before)
    assert status_of(lab, box)["version"] == "2.0.0"
    assert lab.run("upgrade", "containerd", box, version="2.0.0").outcome == "unchanged"


def test_configure_and_restart(lab, box):
    assert lab.run("install", "containerd", box, version="1.7.13").outcome == "done"
    lab.use("containerd", log_level="debug", metrics_port=1338)
    result = lab.run("configure", "containerd", box)
    assert result.outcome == "done"
    config = (box.root / "etc/containerd/config.toml").read_text()
    assert 'level = "debug"' in config
    # a sandbox binds its listeners to its own address, never the setting's
    assert f'address = "{box.server.ip_addresses[0]}:1338"' in config
    assert lab.run("configure", "containerd", box).outcome == "unchanged"
    before = {pid for pid, cmd in processes(box.root) if "bin/containerd " in cmd}
    assert lab.run("restart", "containerd", box).outcome == "done"
    after = {pid for pid, cmd in processes(box.root) if "bin/containerd " in cmd}
    assert len(after) == 1
    assert after.isdisjoint(before)
    assert status_of(lab, box)["healthy"] is True


def test_uninstall_keeping_data_and_not(lab, box):
    assert lab.run("install", "containerd", box, version="1.7.13").outcome == "done"
    meta = box.root / "var/lib/containerd/meta.db"
    assert meta.is_file()

    result = lab.run("uninstall", "containerd", box, keep_data=True)
    assert result.outcome == "done"
    assert "keeping its data in /var/lib/containerd" in result.data["message"]
    assert meta.is_file()
    for gone in ("opt/containerd", "etc/containerd", "run/containerd", "usr/local/bin/ctr"):
        assert not (box.root / gone).exists(), gone
    assert not [cmd for _, cmd in processes(box.root) if "containerd" in cmd]
    assert status_of(lab, box)["installed"] is False
    assert lab.run("uninstall", "containerd", box, keep_data=True).outcome == "unchanged"
    assert meta.is_file()

    assert lab.run("install", "containerd", box, version="1.7.13").outcome == "done"
    assert lab.run("uninstall", "containerd", box, keep_data=False).outcome == "done"
    assert not (box.root / "var/lib/containerd").exists()


def test_versions_and_updates_come_from_the_releases_api(lab, releases, monkeypatch):
    lab.use("containerd")
    with lab.engine() as engine:
        versions = taskserv_versions(engine, "containerd")
    assert [v.version for v in versions] == ["2.0.0", "1.7.13"]  # no prerelease

    settings = {"api_url": releases.api_url, "download_url": releases.download_url}
    releases.fail_next("/repos/", 429, {"Retry-After": "0"})
    with pytest.raises(TransientError) as caught:
        plugin.get_available_versions(settings)
    assert caught.value.status == 429
    # through the core, a 429 is retried
    releases.fail_next("/repos/", 429, {"Retry-After": "0"})
    with lab.engine(sleep=lambda _: None) as engine:
        assert next(v.version for v in taskserv_versions(engine, "containerd")) == "2.0.0"


def test_token_is_sent_to_the_api(lab):
    from provisioning_core.testing import ArtifactMirror

    with ArtifactMirror(token="t0ken") as private:
        private.add_release(fakes.REPO, "v1.7.13", {})
        settings = {"api_url": private.api_url}
        with pytest.raises(ProvisioningError, match="401"):
            plugin.get_available_versions(settings)
        versions = plugin.get_available_versions({**settings, "token": "t0ken"})
        assert [v.version for v in versions] == ["1.7.13"]


def test_settings_defaults_and_problems():
    assert parse_settings({}) == Settings()
    with pytest.raises(ConfigError) as caught:
        parse_settings(
            {
                "data_dir": "var/lib",
                "metrics_port": 70000,
                "log_level": "loud",
                "api_url": "ftp://x",
                "sha256": 5,
                "health_retries": True,
                "colour": "blue",
            }
        )
    problems = caught.value.problems
    assert "expected an absolute path, got 'var/lib' @ taskservs.containerd.data_dir" in problems
    assert "invalid port 70000: expected 1-65535 @ taskservs.containerd.metrics_port" in problems
    assert any(p.endswith("@ taskservs.containerd.log_level") for p in problems)
    assert any(p.endswith("@ taskservs.containerd.api_url") for p in problems)
    assert any(p.endswith("@ taskservs.containerd.sha256") for p in problems)
    assert "expected a number, got bool @ taskservs.containerd.health_retries" in problems
    assert any(p.startswith("unknown setting") and "colour" in p for p in problems)
