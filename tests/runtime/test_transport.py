"""Transports: a local shell and a real SSH connection behave the same."""

from __future__ import annotations

import pickle
import threading

import pytest

from provisioning_core.errors import ProvisioningError
from provisioning_core.models import SshAccess
from provisioning_core.runtime import CommandError, CommandResult, LocalTransport, SshTransport
from provisioning_core.runtime.known_hosts import known_hosts_path, known_keys

from .conftest import free_port


@pytest.fixture(params=["local", "ssh"])
def transport(request, sandbox):
    if request.param == "local":
        t = LocalTransport(root=sandbox)
    else:
        server = request.getfixturevalue("ssh_server")
        t = SshTransport(server.access())
    yield t
    t.close()


def test_runs_in_the_sandbox_with_its_environment(transport, sandbox):
    result = transport.run('pwd; printf "%s\\n" "$PROV_SANDBOX_ROOT"; test -x "$PROV_PYTHON"')
    assert result.ok
    assert result.text().splitlines() == [str(sandbox), str(sandbox)]


def test_exit_status_stdout_stderr_and_input(transport):
    result = transport.run("cat; echo oops >&2; exit 3", input=b"hello\x00bytes")
    assert result == CommandResult("cat; echo oops >&2; exit 3", 3, b"hello\x00bytes", b"oops\n")
    assert not result.ok


def test_no_input_means_stdin_is_closed(transport):
    assert transport.run("cat", timeout=10).stdout == b""


def test_large_input_round_trips(transport):
    data = bytes(range(256)) * 8192  # 2 MiB
    result = transport.run("cat", input=data, timeout=30)
    assert result.stdout == data


def test_killed_by_a_signal_reports_128_plus_signal(transport):
    assert transport.run("kill -9 $$").exit_status == 137


def test_timeout_stops_the_command(transport, sandbox):
    with pytest.raises(ProvisioningError, match=r"did not finish within 0.5 s: sleep 30"):
        transport.run("sleep 30", timeout=0.5)
    # the transport still works afterwards
    assert transport.run("echo ok").text() == "ok\n"


def test_check_raises_a_command_error_naming_host_and_stderr():
    result = LocalTransport().run("echo first >&2; echo second >&2; exit 2")
    with pytest.raises(CommandError) as info:
        result.check("web-1")
    error = info.value
    assert (error.host, error.exit_status, error.stderr) == ("web-1", 2, "first\nsecond")
    assert str(error).startswith("command failed on web-1 (exit status 2): echo first >&2;")
    assert "  | second" in str(error)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.host, copy.command, str(copy)) == (error.host, error.command, str(error))


def test_ssh_runs_commands_from_many_threads_over_one_connection(ssh_server):
    transport = SshTransport(ssh_server.access())
    outputs: list[str] = []

    def worker(i: int) -> None:
        outputs.append(transport.run(f"echo {i}").text().strip())

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    transport.close()
    assert sorted(outputs, key=int) == [str(i) for i in range(8)]
    assert ssh_server.sessions == 8


def test_ssh_reconnects_when_the_server_dropped_an_idle_connection(ssh_server):
    transport = SshTransport(ssh_server.access())
    assert transport.run("echo 1").ok
    ssh_server.drop_connections()
    assert transport.run("echo 2").text() == "2\n"
    transport.close()
    assert len(ssh_server.connections) == 2


def test_ssh_close_then_run_reconnects(ssh_server):
    transport = SshTransport(ssh_server.access())
    assert transport.run("echo 1").ok
    transport.close()
    assert transport.run("echo 2").text() == "2\n"
    transport.close()
    transport.close()  # twice is fine


def test_ssh_trust_on_first_use_records_the_host_key(ssh_server, keys):
    access = ssh_server.access()
    assert not known_hosts_path().exists()
    transport = SshTransport(access)
    transport.run("true")
    transport.close()
    line = known_hosts_path().read_text()
    assert line == f"[127.0.0.1]:{ssh_server.port} {keys.host_pub}\n"
    # the second connection checks against it and records nothing new
    transport = SshTransport(access)
    transport.run("true")
    transport.close()
    assert known_hosts_path().read_text() == line


def test_ssh_refuses_a_changed_host_key(ssh_server, keys):
    known_hosts_path().parent.mkdir(parents=True, exist_ok=True)
    known_hosts_path().write_text(f"[127.0.0.1]:{ssh_server.port} {keys.other_pub}\n")
    transport = SshTransport(ssh_server.access())
    with pytest.raises(ProvisioningError) as info:
        transport.run("true")
    transport.close()
    message = str(info.value)
    assert message.startswith(
        f"SSH to tester@127.0.0.1:{ssh_server.port}: the server's host key has CHANGED"
    )
    assert (
        f"remove the line starting with [127.0.0.1]:{ssh_server.port} from {known_hosts_path()}"
        in message
    )
    assert known_keys("127.0.0.1", ssh_server.port) == [keys.other_pub]


def test_ssh_given_host_key_must_match(ssh_server, keys):
    good = SshTransport(ssh_server.access(host_key=keys.host_pub))
    assert good.run("echo ok").text() == "ok\n"
    good.close()
    assert not known_hosts_path().exists()  # a given key is not recorded

    bad = SshTransport(ssh_server.access(host_key=keys.other_pub))
    with pytest.raises(ProvisioningError, match="does not match the one its provider gave"):
        bad.run("true")
    bad.close()


def test_ssh_unreadable_host_key_is_explained(ssh_server):
    transport = SshTransport(ssh_server.access(host_key="not a key"))
    with pytest.raises(ProvisioningError, match=r"SshAccess\.host_key cannot be read"):
        transport.run("true")
    transport.close()


def test_ssh_authentication_failure_names_user_host_and_key(ssh_server, keys):
    transport = SshTransport(ssh_server.access(key_path=str(keys.other_key)))
    with pytest.raises(ProvisioningError) as info:
        transport.run("true")
    transport.close()
    assert str(info.value) == (
        f"SSH to tester@127.0.0.1:{ssh_server.port}: authentication failed\n"
        f"  hint: check that the key {keys.other_key} is authorised for user 'tester' on the server"
    )


def test_ssh_refused_connection_says_what_to_do(keys):
    port = free_port()
    transport = SshTransport(
        SshAccess(host="127.0.0.1", port=port, user="tester", key_path=str(keys.client_key))
    )
    with pytest.raises(ProvisioningError) as info:
        transport.run("true")
    transport.close()
    message = str(info.value)
    assert message.startswith(f"SSH to tester@127.0.0.1:{port}: cannot connect:")
    assert "is the server running? `prov server start NAME`" in message


def test_ssh_connect_timeout(keys):
    # a listening socket that never speaks SSH
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        transport = SshTransport(
            SshAccess(host="127.0.0.1", port=port, key_path=str(keys.client_key)),
            connect_timeout=0.5,
        )
        with pytest.raises(ProvisioningError, match=r"cannot connect: no answer within 0.5 s"):
            transport.run("true")
        transport.close()
