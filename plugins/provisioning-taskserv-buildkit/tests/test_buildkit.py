"""BuildKit installed from (fake) GitHub releases into local sandboxes over real SSH,
beside the containerd it needs."""

from __future__ import annotations

import socket
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
from provisioning_core.operations.taskservs import check_updates, taskserv_status
from provisioning_core.testing import sandbox_processes as processes
from provisioning_core.testing import sandbox_tree as tree
from provisioning_taskserv_containerd import testing as containerd_fakes

from provisioning_taskserv_buildkit import plugin
from provisioning_taskserv_buildkit import testing as fakes
from provisioning_taskserv_buildkit.settings import Settings, parse_settings

PROJECT = Path(__file__).resolve().parents[1]
ARCH = "amd64"
V1, V2 = fakes.VERSIONS
PINS = fakes.pins()


@pytest.fixture
def releases(mirror):
    """BuildKit publishes no checksum file: only the tarballs."""
    fakes.add_releases(mirror)
    containerd_fakes.add_releases(mirror, ("1.5.9", "1.7.13"), prerelease=None)
    return mirror


@pytest.fixture
def box(lab, releases):
    lab.use("containerd")
    lab.use("buildkit", sha256=PINS)
    sandbox = lab.create("bk-1")
    with connect(sandbox.server, sandbox.ssh) as host:
        assert host.arch == ARCH, "the fake releases are built for amd64 sandboxes"
    return sandbox


@pytest.fixture
def with_containerd(lab, box):
    assert lab.run("install", "containerd", box, version="1.7.13").outcome == "done"
    return box


def workers(box, version):
    with connect(box.server, box.ssh) as host:
        buildctl = host.path(f"/opt/buildkit/{version}/bin/buildctl")
        sock = host.path("/run/buildkit/buildkitd.sock")
        return host.run(f"{buildctl} --addr unix://{sock} debug workers").text()


def status_of(lab, box):
    with lab.engine() as engine:
        (row,) = taskserv_status(engine, "buildkit", [box.hostname])
    return row


def test_project_is_valid():
    report = validate_extension(PROJECT, "taskserv", strict=True)
    assert report.valid, report.errors


def test_info_declares_the_containerd_dependency():
    manager = ExtensionManager.make_test_instance({("taskserv", "buildkit"): plugin})
    ext = manager.load_extension("taskserv", "buildkit")
    assert ext.unsupported == []
    for hook in ("install", "uninstall", "configure", "restart", "upgrade"):
        assert ext.accepts(hook, "check"), hook
    info = ext.call("taskserv_info")
    assert info.dependencies == ["containerd>=1.6"]
    assert info.health_check.type == "command"


def test_the_distribution_depends_on_the_containerd_plugin():
    from importlib.metadata import requires

    assert "provisioning-taskserv-containerd<0.2,>=0.1" in (
        requires("provisioning-taskserv-buildkit") or []
    )


def test_install_is_refused_while_containerd_is_missing_or_too_old(lab, box):
    with pytest.raises(ProvisioningError) as caught:
        lab.run("install", "buildkit", box, version=V1)
    assert "containerd is not installed on bk-1" in str(caught.value)
    assert "prov taskserv install containerd" in str(caught.value)

    assert lab.run("install", "containerd", box, version="1.5.9").outcome == "done"
    with pytest.raises(ProvisioningError) as caught:
        lab.run("install", "buildkit", box, version=V1)
    assert "bk-1 has containerd 1.5.9, buildkit needs containerd>=1.6" in str(caught.value)
    assert not (box.root / "opt/buildkit").exists()


def test_install_beside_containerd_and_again_changes_nothing(lab, with_containerd):
    box = with_containerd
    result = lab.run("install", "buildkit", box)
    assert result.outcome == "done", result
    assert result.data["message"] == f"installed buildkit {V2}"
    assert f"buildkitd {V2} worker containerd" in workers(box, V2)
    config = (box.root / "etc/buildkit/buildkitd.toml").read_text()
    assert f'address = "{box.root}/run/containerd/containerd.sock"' in config
    assert f'address = ["unix://{box.root}/run/buildkit/buildkitd.sock"]' in config
    assert (
        box.root / "usr/local/bin/buildctl"
    ).readlink() == box.root / f"opt/buildkit/{V2}/bin/buildctl"

    row = status_of(lab, box)
    assert (row["installed"], row["running"], row["healthy"], row["version"]) == (
        True,
        True,
        True,
        V2,
    )
    assert row["memory_mb"] > 0
    assert lab.run("install", "buildkit", box, version=V2).outcome == "unchanged"


def test_tcp_listener_binds_to_the_sandbox_address(lab, with_containerd):
    box = with_containerd
    address = box.server.ip_addresses[0]
    with socket.socket() as s:
        s.bind((address, 0))
        port = s.getsockname()[1]
    lab.use("buildkit", sha256=PINS, tcp_port=port, tcp_address="0.0.0.0")
    assert lab.run("install", "buildkit", box, version=V1).outcome == "done"
    assert f'"tcp://{address}:{port}"' in (box.root / "etc/buildkit/buildkitd.toml").read_text()
    with socket.create_connection((address, port), timeout=5) as conn:
        assert conn.recv(200).decode().startswith(f"buildkitd {V1}")


def test_without_a_pinned_digest_nothing_is_installed(lab, with_containerd, mirror):
    box = with_containerd
    lab.use("buildkit")
    result = lab.run("install", "buildkit", box, version=V1)
    assert result.outcome == "failed"
    assert "publishes no checksum" in result.error
    assert "refusing to install" in result.error
    assert '[taskservs.buildkit] sha256 = "<sha256>"' in result.hint
    assert not (box.root / "opt/buildkit").exists()


def test_a_wrong_pinned_digest_refuses_to_install(lab, with_containerd, mirror):
    box = with_containerd
    wrong = "f" * 64
    lab.use("buildkit", sha256=wrong)
    result = lab.run("install", "buildkit", box, version=V1)
    assert result.outcome == "failed"
    assert mirror.asset_url(fakes.REPO, f"v{V1}", fakes.asset_name(V1, ARCH)) in result.error
    assert f"expected {wrong}" in result.error
    assert PINS[V1] in result.error
    assert status_of(lab, box)["installed"] is False


def test_check_mode_changes_nothing(lab, with_containerd):
    box = with_containerd
    before = (tree(box.root), processes(box.root))
    planned = lab.run("install", "buildkit", box, check=True, version=V1)
    assert planned.outcome == "planned"
    assert "would create /etc/buildkit/buildkitd.toml" in planned.actions
    assert (tree(box.root), processes(box.root)) == before

    assert lab.run("install", "buildkit", box, version=V1).outcome == "done"
    before = (tree(box.root), processes(box.root))
    for action, kwargs in (("upgrade", {"version": V2}), ("uninstall", {}), ("restart", {})):
        assert lab.run(action, "buildkit", box, check=True, **kwargs).ok, action
        assert (tree(box.root), processes(box.root)) == before, action


def test_upgrade_between_two_versions(lab, with_containerd):
    box = with_containerd
    assert lab.run("install", "buildkit", box, version=V1).outcome == "done"
    with lab.engine() as engine:
        (update,) = check_updates(engine, "buildkit", [box.hostname])
    assert (update["current"], update["latest"], update["update_available"]) == (V1, V2, True)
    result = lab.run("upgrade", "buildkit", box, version=V2)
    assert result.outcome == "done", result
    assert f"buildkitd {V2}" in workers(box, V2)
    assert not (box.root / f"opt/buildkit/{V1}").exists()


def test_uninstall_keeping_data_and_not(lab, with_containerd):
    box = with_containerd
    assert lab.run("install", "buildkit", box, version=V1).outcome == "done"
    cache = box.root / "var/lib/buildkit/cache.db"
    assert cache.is_file()
    assert lab.run("uninstall", "buildkit", box, keep_data=True).outcome == "done"
    assert cache.is_file()
    assert not (box.root / "run/buildkit").exists()
    assert not [cmd for _, cmd in processes(box.root) if "buildkitd" in cmd]
    # containerd is untouched
    assert status_of(lab, box)["installed"] is False
    with lab.engine() as engine:
        (row,) = taskserv_status(engine, "containerd", [box.hostname])
    assert row["healthy"] is True
    assert (box.root / "usr/local/bin/ctr").is_symlink()
    assert lab.run("install", "buildkit", box, version=V1).outcome == "done"
    assert lab.run("uninstall", "buildkit", box, keep_data=False).outcome == "done"
    assert not (box.root / "var/lib/buildkit").exists()


def test_versions_and_a_rate_limit(lab, releases):
    settings = {"api_url": releases.api_url}
    assert [v.version for v in plugin.get_available_versions(settings)] == [V2, V1]
    releases.fail_next("/repos/moby/", 503)
    with pytest.raises(TransientError):
        plugin.get_available_versions(settings)
    releases.fail_next("/repos/moby/", 429)
    with pytest.raises(TransientError):
        plugin.get_available_versions(settings)


def test_settings_defaults_and_problems():
    assert parse_settings({}) == Settings()
    assert parse_settings({"sha256": PINS}).sha256 == PINS
    with pytest.raises(ConfigError) as caught:
        parse_settings({"containerd_socket": "run/x.sock", "debug": 1, "tcp_port": 99999})
    problems = caught.value.problems
    assert (
        "expected an absolute path, got 'run/x.sock' @ taskservs.buildkit.containerd_socket"
        in problems
    )
    assert "expected true or false, got int @ taskservs.buildkit.debug" in problems
    assert "invalid port 99999: expected 1-65535 @ taskservs.buildkit.tcp_port" in problems
