"""`prov server ...` with the local provider, end to end."""

from __future__ import annotations

import json
import shlex

from local_support import prov, prov_process, sandbox_pids


def results(output: str) -> list[dict]:
    return json.loads(output)["results"]


def test_create_with_defaults_list_info_stop_start_reboot_delete(prov_home):
    # plan and zone come from [providers.local.defaults] in the workspace
    code, output = prov("server", "create", "web-1", "--provider", "local", "--wait", "-o", "json")
    assert code == 0, output
    (created,) = results(output)
    assert created["status"] == "running"
    code, output = prov("server", "list", "-o", "json")
    (row,) = json.loads(output)["servers"]
    assert (row["hostname"], row["status"], row["where"]) == ("web-1", "running", "both")
    [address] = row["ip_addresses"]
    assert address.startswith("127.0.0.")  # claimed machine-wide: whichever is free
    for action, status in (("stop", "stopped"), ("start", "running"), ("reboot", "running")):
        code, output = prov("server", action, "web-1", "--wait", "-o", "json")
        assert code == 0, output
        assert results(output)[0]["status"] == status
        code, output = prov("server", "info", "web-1", "-o", "json")
        assert json.loads(output)["status"] == status
    code, output = prov("server", "delete", "web-1", "--wait", "-o", "json")
    assert code == 0, output
    assert sandbox_pids(prov_home) == []
    assert list((prov_home / "local" / "servers").iterdir()) == []


def test_server_info_shows_a_crashed_daemon_as_error(prov_home):
    import os
    import signal

    code, output = prov("server", "create", "web-1", "--provider", "local", "-o", "json")
    assert code == 0, output
    for pid in sandbox_pids(prov_home):
        os.kill(pid, signal.SIGKILL)
    code, output = prov("server", "info", "web-1", "-o", "json")
    assert code == 0, output
    assert json.loads(output)["status"] == "error"


def test_prov_server_ssh_runs_a_command(prov_home):
    code, output = prov("server", "create", "web-1", "--provider", "local", "-o", "json")
    assert code == 0, output
    printed = prov_process("server", "ssh", "web-1", "--print")
    assert printed.returncode == 0, printed.stderr
    # the host key comes from the provider: ssh trusts exactly that key, and no other identity
    assert "StrictHostKeyChecking=yes" in shlex.split(printed.stdout)
    ran = prov_process("server", "ssh", "web-1", "--", "echo", "hi")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "hi\n"


def test_parallel_creates_get_distinct_addresses(prov_home):
    code, output = prov(
        "server", "create", "node", "--count", "4", "--provider", "local", "-o", "json"
    )
    assert code == 0, output
    addresses = [r["data"]["ip_addresses"][0] for r in results(output)]
    assert len(set(addresses)) == 4
    assert all(a.startswith("127.0.0.") for a in addresses)


def test_prov_server_ssh_without_an_ssh_program_uses_the_core_client(prov_home, tmp_path):
    import os
    import subprocess
    import sys

    code, output = prov("server", "create", "web-1", "--provider", "local", "-o", "json")
    assert code == 0, output
    # a PATH holding only the interpreter: no OpenSSH client to be found
    bare = tmp_path / "bin"
    bare.mkdir()
    (bare / "python").symlink_to(sys.executable)
    env = {**os.environ, "PATH": str(bare)}
    ran = subprocess.run(
        [
            sys.executable,
            "-m",
            "provisioning_core",
            "server",
            "ssh",
            "web-1",
            "--",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 3",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert (ran.returncode, ran.stdout, ran.stderr) == (3, "out\n", "err\n")


def test_create_needs_no_plan_or_zone_the_provider_has_defaults(prov_home, prov_workspace):
    # no [providers.local.defaults]: the provider's own default zone and plan apply
    (prov_workspace / "provisioning.toml").write_text(
        "[operations]\nwait_interval = 0.05\n", encoding="utf-8"
    )
    code, output = prov("server", "create", "web-1", "--provider", "local", "--wait", "-o", "json")
    assert code == 0, output
    (created,) = results(output)
    assert created["status"] == "running"
    code, output = prov("server", "info", "web-1", "-o", "json")
    assert (json.loads(output)["plan"], json.loads(output)["zone"]) == ("small", "local")
    code, output = prov("server", "delete", "web-1", "--wait", "-o", "json")
    assert code == 0, output


def test_storage_and_network_options_are_refused_not_ignored(prov_home):
    code, output = prov("server", "create", "web-1", "--provider", "local", "--storage-size", "50")
    assert code == 2, output
    assert "a sandbox has no disk of its own: storage does not apply @ $.storage" in output
    code, output = prov("server", "create", "web-1", "--provider", "local", "--no-public-ip")
    assert code == 2, output
    assert "network does not apply @ $.network" in output
    assert sandbox_pids(prov_home) == []
