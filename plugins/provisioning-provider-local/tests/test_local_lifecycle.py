"""A local server's life: it outlives its creator, stops, starts, reboots, dies, goes."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import time
from pathlib import Path

import pytest
from local_support import Local, prov_process, sandbox_pids, ssh_run
from provisioning_core import ProviderSettings, ProvisioningError, ServerNotFound

from provisioning_provider_local import procs


def daemon_pid(prov_home, server_id: str) -> int:
    meta = json.loads((prov_home / "local" / "servers" / server_id / "server.json").read_text())
    return meta["daemon_pid"]


def background_sleep(access) -> int:
    """Start `sleep 300 &` in the sandbox over SSH; its pid."""
    result = ssh_run(access, "sleep 300 & echo $!")
    pid = int(result.stdout)
    assert procs.alive(pid)
    return pid


def refused(access) -> bool:
    """Whether nothing listens at ``access`` any more."""
    try:
        ssh_run(access, "true")
    except ConnectionRefusedError:
        return True
    return False


def parent_of(pid: int) -> int:
    stat = (Path("/proc") / str(pid) / "stat").read_text()
    return int(stat[stat.rfind(")") + 2 :].split()[1])


def test_servers_outlive_the_process_that_created_them(local, prov_home):
    created = prov_process(
        "server", "create", "web-1", "--provider", "local", "--wait", "-o", "json"
    )
    assert created.returncode == 0, created.stderr
    (result,) = json.loads(created.stdout)["results"]
    assert result["status"] == "running"
    server_id = result["data"]["id"]
    # the CLI has exited; the daemon lives on, not a child of anything here
    pid = daemon_pid(prov_home, server_id)
    assert procs.alive(pid)
    assert parent_of(pid) != os.getpid()
    assert local.info(server_id).status.value == "running"
    assert ssh_run(local.access(server_id), "echo hi").stdout == b"hi\n"


def test_stop_refuses_ssh_and_ends_every_process_of_the_sandbox(local, prov_home):
    server = local.create("web-1")
    access = local.access(server.id)
    sleeper = background_sleep(access)
    daemon = daemon_pid(prov_home, server.id)
    local.call("stop_server", server_id=server.id)
    assert not procs.alive(sleeper)
    assert not procs.alive(daemon)
    assert sandbox_pids(prov_home) == []
    assert local.info(server.id).status.value == "stopped"
    assert refused(access)
    local.call("stop_server", server_id=server.id)  # stopping a stopped server is no error
    assert local.info(server.id).status.value == "stopped"


def test_start_brings_a_stopped_server_back_on_its_address_and_port(local):
    server = local.create("web-1")
    before = local.access(server.id)
    local.call("stop_server", server_id=server.id)
    local.call("start_server", server_id=server.id)
    after = local.access(server.id)
    assert local.info(server.id).status.value == "running"
    assert (after.host, after.port, after.host_key) == (before.host, before.port, before.host_key)
    assert ssh_run(after, "echo back").stdout == b"back\n"


def test_start_takes_another_port_when_the_previous_one_is_taken(local):
    server = local.create("web-1")
    before = local.access(server.id)
    local.call("stop_server", server_id=server.id)
    with socket.socket() as squatter:
        squatter.bind((before.host, before.port))
        squatter.listen()
        local.call("start_server", server_id=server.id)
        after = local.access(server.id)
        assert after.port != before.port
        assert ssh_run(after, "echo moved").stdout == b"moved\n"


def test_reboot_restarts_the_daemon_and_runs_rc_d_again(local, prov_home):
    server = local.create("web-1")
    access = local.access(server.id)
    script = '#!/bin/sh\necho "boot $PROV_SANDBOX_ID" >> "$PROV_SANDBOX_ROOT/booted"\nsleep 300 &\n'
    ssh_run(
        access,
        "mkdir -p etc/rc.d && cat > etc/rc.d/10-mark && chmod +x etc/rc.d/10-mark && "
        "printf '#!/bin/sh\\ntouch \"$PROV_SANDBOX_ROOT/wrong\"\\n' > etc/rc.d/20-not-executable && "
        "printf '#!/bin/sh\\necho second >> \"$PROV_SANDBOX_ROOT/booted\"\\nexit 3\\n' > etc/rc.d/05-first && "
        "chmod +x etc/rc.d/05-first",
        stdin=script.encode(),
    )
    old = daemon_pid(prov_home, server.id)
    local.call("reboot_server", server_id=server.id)
    new = daemon_pid(prov_home, server.id)
    assert new != old
    assert not procs.alive(old)
    assert local.info(server.id).status.value == "running"
    root = prov_home / "local" / "servers" / server.id / "root"
    # in name order, a failing script does not stop the next one; non-executables are skipped
    assert (root / "booted").read_text() == f"second\nboot {server.id}\n"
    assert not (root / "wrong").exists()
    rc_log = (root / "var" / "log" / "rc.log").read_text()
    assert "05-first: exit 3" in rc_log
    assert "10-mark: exit 0" in rc_log
    # what rc.d started belongs to the sandbox: the next stop ends it
    assert len(sandbox_pids(prov_home)) >= 2
    local.call("stop_server", server_id=server.id)
    assert sandbox_pids(prov_home) == []
    local.call("start_server", server_id=server.id)
    assert (root / "booted").read_text().count("boot ") == 2


def test_stop_finds_the_processes_whatever_path_prov_home_was_given_by(
    local, prov_home, tmp_path, monkeypatch
):
    prov_home.mkdir(parents=True, exist_ok=True)
    link = tmp_path / "link-to-home"
    link.symlink_to(prov_home)
    monkeypatch.setenv("PROV_HOME", str(link))
    server = local.create("web-1")
    sleeper = background_sleep(local.access(server.id))
    monkeypatch.setenv("PROV_HOME", str(prov_home))
    assert local.info(server.id).status.value == "running"
    local.call("stop_server", server_id=server.id)
    assert not procs.alive(sleeper)
    assert sandbox_pids(prov_home) == []


def test_delete_leaves_no_process_and_no_file_and_frees_the_address(local, prov_home):
    server = local.create("web-1")
    background_sleep(local.access(server.id))
    local.call("delete_server", server_id=server.id)
    assert sandbox_pids(prov_home) == []
    assert list((prov_home / "local" / "servers").iterdir()) == []
    with pytest.raises(ServerNotFound):
        local.info(server.id)
    with pytest.raises(ServerNotFound):
        local.call("delete_server", server_id=server.id)
    assert local.call("list_servers") == []
    again = local.create("web-2")
    assert again.ip_addresses == server.ip_addresses


def test_delete_removes_what_the_sandbox_made_read_only(local, prov_home):
    server = local.create("web-1")
    ssh_run(
        local.access(server.id),
        "mkdir -p locked/deep && touch locked/deep/f && chmod 0 locked/deep locked",
    )
    local.call("delete_server", server_id=server.id)
    assert not (prov_home / "local" / "servers" / server.id).exists()


def test_a_daemon_that_died_is_reported_as_error_until_started(local, prov_home):
    server = local.create("web-1")
    os.kill(daemon_pid(prov_home, server.id), signal.SIGKILL)
    deadline = time.monotonic() + 10
    while local.info(server.id).status.value != "error":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert [s.status.value for s in local.call("list_servers")] == ["error"]
    local.call("start_server", server_id=server.id)
    assert local.info(server.id).status.value == "running"
    assert ssh_run(local.access(server.id), "echo up").stdout == b"up\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_ssh_port_option_fixes_every_sandbox_port(local):
    port = free_port()
    fixed = Local(local.extension, ProviderSettings(name="local", options={"ssh_port": port}))
    one, two = fixed.create("one"), fixed.create("two")
    for server in (one, two):  # each on its own address, so the same port twice
        access = fixed.access(server.id)
        assert access.port == port
        assert ssh_run(access, "echo $PROV_SANDBOX_ID").stdout.decode().strip() == server.id


def test_a_daemon_that_cannot_listen_fails_create_with_its_log_and_leaves_nothing(local, prov_home):
    port = free_port()
    with socket.socket() as blocker:
        # the port on every address (a listener on one address makes it passed over)
        blocker.bind(("0.0.0.0", port))
        blocker.listen()
        fixed = Local(local.extension, ProviderSettings(name="local", options={"ssh_port": port}))
        with pytest.raises(ProvisioningError) as caught:
            fixed.create("web-1")
    message = str(caught.value)
    assert "SSH daemon of local server web-1" in message
    assert re.search(rf"cannot listen on 127\.0\.0\.\d+:{port}", message)  # its log's tail
    assert "prov server start" in message
    assert sandbox_pids(prov_home) == []
    assert list((prov_home / "local" / "servers").iterdir()) == []
    assert local.call("list_servers") == []
