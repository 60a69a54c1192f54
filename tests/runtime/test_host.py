"""Host: facts, logical paths, files through the command channel, both transports."""

from __future__ import annotations

import os
import stat

import pytest

from provisioning_core.errors import ProvisioningError
from provisioning_core.models import Server, SshAccess
from provisioning_core.runtime import CommandError, Host, LocalTransport, connect


def test_facts_of_a_sandbox(host, sandbox):
    assert host.root == str(sandbox)
    assert host.sandbox is True
    expected = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
    assert host.arch == expected
    assert host.services.name == "supervisor"


def test_facts_of_a_real_host_without_sandbox():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROV_SANDBOX")}
    transport = LocalTransport()
    transport.env = env
    host = Host(transport, name="here")
    assert (host.root, host.sandbox) == ("/", False)
    assert host.path("/etc/x/../y.conf") == "/etc/y.conf"
    assert host.services.name == "systemd"
    assert host.address == "127.0.0.1"


def test_path_maps_logical_paths_under_the_root(local_host, sandbox):
    assert local_host.path("/etc/app/config.yaml") == f"{sandbox}/etc/app/config.yaml"
    assert local_host.path("/") == str(sandbox)
    assert local_host.path("/../../etc/passwd") == f"{sandbox}/etc/passwd"
    with pytest.raises(ProvisioningError, match="'etc/x' is not an absolute path"):
        local_host.path("etc/x")


def test_write_read_exists_sha256_remove(host, sandbox):
    path = '/etc/my app/it\'s "quoted" $HOME.conf'
    assert host.read(path) is None
    assert not host.exists(path)
    assert host.sha256(path) is None
    host.write(path, b"one\x00two\n", 0o600)
    real = sandbox / "etc" / "my app" / 'it\'s "quoted" $HOME.conf'
    assert real.read_bytes() == b"one\x00two\n"
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    assert host.read(path) == b"one\x00two\n"
    assert host.exists(path)
    import hashlib

    assert host.sha256(path) == hashlib.sha256(b"one\x00two\n").hexdigest()
    assert host.stat(path) == ("file", 0o600)
    assert host.stat("/etc/my app") == ("directory", 0o755)
    host.write(path, b"")  # empty content works too
    assert host.read(path) == b""
    assert not [p for p in real.parent.iterdir() if p.name.startswith(".prov-write")]
    host.remove("/etc")
    assert not (sandbox / "etc").exists()
    host.remove("/etc")  # absent is fine


def test_read_of_a_directory_is_an_error_not_absence(host):
    host.write("/d/f", b"x")
    with pytest.raises(CommandError, match="command failed on sandbox-"):
        host.read("/d")


def test_remove_refuses_the_root(local_host, sandbox):
    with pytest.raises(ProvisioningError, match="refusing to remove /"):
        local_host.remove("/")
    assert sandbox.is_dir()


def test_run_checks_by_default(host):
    with pytest.raises(CommandError) as info:
        host.run("echo nope >&2; exit 4")
    assert info.value.host == host.name
    assert host.run("exit 4", check=False).exit_status == 4


def test_connect_builds_an_ssh_host(ssh_server, sandbox):
    server = Server(id="s1", hostname="web-1", status="running", ip_addresses=["127.0.0.9"])
    with connect(server, ssh_server.access()) as host:
        assert host.name == "web-1"
        assert host.address == "127.0.0.9"
        assert host.transport.name == f"ssh tester@127.0.0.1:{ssh_server.port}"
        assert host.root == str(sandbox)
    bare = Server(id="s2", hostname="web-2", status="running")
    host = connect(bare, SshAccess(host="10.0.0.7"))
    assert host.address == "10.0.0.7"
    host.close()  # never connected: nothing to close
