"""End to end: ``prov`` installs and runs my-service on a local server over real SSH.

Each test creates a local server (a sandbox with its own SSH endpoint on
127.0.0.N) and drives the CLI the way a user does; the service is then
reached over HTTP at the server's address and its files read in the sandbox.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from provisioning_taskserv_my_service import payload

T = TypeVar("T")

BINARY = "usr/local/bin/my-service"
CONFIG = "etc/my-service/config.json"
STATE = "var/lib/my-service/state.json"


def eventually(probe: Callable[[], T], what: str, timeout: float = 20.0) -> T:
    """``probe()`` once it returns something true; fails naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = probe()
        except OSError:
            value = None  # type: ignore[assignment]
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:g} s")
        time.sleep(0.1)


def diff_lines(result: dict[str, Any]) -> list[str]:
    """Every diff line of a JSON result's changes (``data.changes``)."""
    return [
        line
        for c in result["data"].get("changes", [])
        if c["diff"]
        for line in c["diff"].split("\n")
    ]


def install(prov, *args: str) -> dict[str, Any]:
    run = prov("taskserv", "install", "my-service", "--server", "web-1", *args, "-o", "json")
    assert run.exit_code == 0, run.output
    result: dict[str, Any] = run.json()["results"][0]
    return result


def act(prov, action: str, *args: str) -> dict[str, Any]:
    run = prov("taskserv", action, "my-service", "--server", "web-1", *args, "-o", "json")
    assert run.exit_code == 0, run.output
    result: dict[str, Any] = run.json()["results"][0]
    return result


def status(prov) -> dict[str, Any]:
    run = prov("taskserv", "status", "my-service", "--server", "web-1", "-o", "json")
    assert run.exit_code == 0, run.output
    result: dict[str, Any] = run.json()["statuses"][0]
    return result


# --- what "nothing changed" means ---------------------------------------------------------


def tree(root: Path) -> dict[str, tuple[Any, ...]]:
    """Every path under ``root`` with its kind, mode and (for files) content digest."""
    found: dict[str, tuple[Any, ...]] = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(directory) / name
            info = path.lstat()
            key = str(path.relative_to(root))
            if stat.S_ISLNK(info.st_mode):
                found[key] = ("link", str(path.readlink()))
            elif stat.S_ISDIR(info.st_mode):
                found[key] = ("dir", stat.S_IMODE(info.st_mode))
            else:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                found[key] = ("file", stat.S_IMODE(info.st_mode), digest)
    return found


def sandbox_processes(prov_home: Path) -> set[tuple[int, bytes]]:
    """(pid, command line) of every process running in a sandbox under ``prov_home``."""
    base = os.fsencode(prov_home) + b"/"
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # gone, or not ours to read
        if any(v.startswith(b"PROV_SANDBOX_ROOT=" + base) for v in environ):
            found.add((int(entry.name), cmdline))
    return found


def inventory(prov_home: Path) -> list[str]:
    """The inventory's whole content, as SQL."""
    path = prov_home / "inventory.sqlite3"
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


def snapshot(server, prov_home: Path) -> tuple[Any, ...]:
    return tree(server.root), sandbox_processes(prov_home), inventory(prov_home)


# --- the tests -----------------------------------------------------------------------------


def test_install_then_it_answers_and_reports_healthy(
    prov, web1, settings: Callable[..., None]
) -> None:
    settings(default_ports=True)
    result = install(prov, "--wait")
    assert result["outcome"] == "done"
    assert result["status"] == "running 1.1.0"
    assert result["data"]["message"] == "installed my-service 1.1.0"
    assert "install /usr/local/bin/my-service (1.1.0)" in result["actions"]

    assert web1.get_json("/health") == {"status": "ok", "version": "1.1.0"}
    assert web1.get_json("/version") == {"version": "1.1.0"}
    assert web1.get_json("/")["message"] == "Hello from my-service!"
    code, metrics = web1.get("/metrics", port="metrics_port")
    assert code == 200
    assert b'my_service_info{version="1.1.0"} 1' in metrics

    # the files are where the layout says, under the sandbox root
    assert os.access(web1.root / BINARY, os.X_OK)
    config = json.loads((web1.root / CONFIG).read_text())
    assert (config["listen"], config["port"], config["metrics_port"]) == (web1.address, 8080, 9090)
    assert config["data_dir"] == str(web1.root / "var/lib/my-service")
    assert json.loads((web1.root / STATE).read_text())["requests"] >= 3

    now = status(prov)
    assert now["server"] == "web-1"
    assert (now["installed"], now["running"], now["healthy"]) == (True, True, True)
    assert now["version"] == "1.1.0"
    assert now["uptime_seconds"] > 0
    assert now["memory_mb"] > 1
    assert f"GET http://{web1.address}:8080/health: HTTP 200" in now["message"]

    table = prov("taskserv", "status", "my-service", "--server", "web-1", "-o", "table")
    assert table.exit_code == 0, table.output
    row = next(line for line in table.stdout.splitlines() if line.startswith("web-1"))
    assert row.split()[1:5] == ["True", "True", "True", "1.1.0"]
    assert "HTTP 200" in row
    assert "up " in row
    assert " MB" in row

    again = install(prov)
    assert again["outcome"] == "unchanged"
    assert again["data"]["message"] == "my-service 1.1.0 is already installed and running"


def test_what_cannot_be_done_is_refused_and_changes_nothing(
    prov, web1, prov_home: Path, settings: Callable[..., None]
) -> None:
    before = snapshot(web1, prov_home)
    run = prov("taskserv", "install", "my-service", "--server", "web-1", "--version", "9.9")
    assert run.exit_code == 2
    assert "no version '9.9'" in run.output
    assert "1.1.0, 1.0.0" in run.output
    for action in ("upgrade", "configure", "restart"):
        run = prov("taskserv", action, "my-service", "--server", "web-1")
        assert run.exit_code == 1, run.output
        assert f"cannot {action} my-service on web-1: it is not installed there" in run.output
        assert "hint: install it first: prov taskserv install my-service --server web-1" in (
            run.output
        )
    settings(port="8080")
    run = prov("taskserv", "install", "my-service", "--server", "web-1")
    # the hook refuses it for each server, as bad input (a ConfigError): exit 2
    assert run.exit_code == 2
    assert "expected int, got str @ taskservs.my-service.port" in run.output
    assert snapshot(web1, prov_home)[:2] == before[:2]  # the inventory records the failures


def test_check_mode_changes_nothing(
    prov, web1, prov_home: Path, settings: Callable[..., None]
) -> None:
    before = snapshot(web1, prov_home)
    planned = act(prov, "install", "--version", "1.0.0", "--check")
    assert planned["outcome"] == "planned"
    assert "would install /usr/local/bin/my-service (1.0.0)" in planned["actions"]
    assert "would create /etc/my-service/config.json" in planned["actions"]
    assert '+  "greeting": "Hello from my-service!"' in diff_lines(planned)
    assert snapshot(web1, prov_home) == before

    install(prov, "--version", "1.0.0", "--wait")
    web1.get_json("/")  # the counter moves with requests, not with plans
    before = snapshot(web1, prov_home)

    upgrade = act(prov, "upgrade", "--version", "1.1.0", "--check")
    assert upgrade["outcome"] == "planned"
    assert upgrade["actions"] == [
        "would replace /usr/local/bin/my-service (1.0.0 -> 1.1.0)",
        "would restart service my-service",
    ]
    settings(greeting="Bonjour")
    configure = act(prov, "configure", "--check")
    assert '-  "greeting": "Hello from my-service!"' in diff_lines(configure)
    assert '+  "greeting": "Bonjour"' in diff_lines(configure)
    assert configure["actions"][-1] == "would restart service my-service"
    uninstall = act(prov, "uninstall", "--check")
    assert uninstall["actions"] == [
        "would remove service my-service",
        "would remove /usr/local/bin/my-service",
        "would remove /etc/my-service",
        "would remove /var/lib/my-service",
    ]
    assert snapshot(web1, prov_home) == before
    assert web1.get_json("/") == {"message": "Hello from my-service!", "version": "1.0.0"}


def test_configure_upgrade_and_uninstall_keep_what_they_should(
    prov, web1, prov_home: Path, settings: Callable[..., None]
) -> None:
    install(prov, "--version", "1.0.0", "--wait")
    for _ in range(3):
        web1.get_json("/")
    assert web1.get("/info")[0] == 404  # 1.0.0 has no /info

    settings(greeting="Hej från my-service")
    configured = act(prov, "configure", "--wait")
    assert configured["outcome"] == "done"
    assert "restart service my-service" in configured["actions"]
    assert web1.get_json("/")["message"] == "Hej från my-service"
    assert act(prov, "configure")["outcome"] == "unchanged"

    upgraded = act(prov, "upgrade", "--version", "1.1.0", "--wait")
    assert upgraded["data"]["message"] == "upgraded my-service 1.0.0 -> 1.1.0"
    assert upgraded["status"] == "running 1.1.0"
    assert web1.get_json("/health") == {"status": "ok", "version": "1.1.0"}
    info = web1.get_json("/info")
    assert info["requests"] >= 5  # 1.0.0's requests were kept in /var/lib/my-service
    assert info["starts"] == 3  # 1.0.0, after configure, after upgrade
    assert web1.get_json("/")["message"] == "Hej från my-service"
    assert act(prov, "upgrade", "--version", "1.1.0")["outcome"] == "unchanged"

    port = web1.port()
    kept = act(prov, "uninstall", "--keep-data", "--wait")
    assert kept["data"]["message"] == (
        "uninstalled my-service, keeping its data in /var/lib/my-service"
    )
    assert not (web1.root / BINARY).exists()
    assert not (web1.root / "etc/my-service").exists()
    assert json.loads((web1.root / STATE).read_text())["requests"] >= 6
    with pytest.raises(OSError):
        web1.get("/health", port)
    assert not [p for p in sandbox_processes(prov_home) if b"my-service" in p[1]]
    assert status(prov)["installed"] is False

    # the kept data carries on when it comes back; then a full uninstall removes it
    install(prov, "--wait")
    assert web1.get_json("/info")["requests"] >= 7
    act(prov, "uninstall", "--wait")
    assert not (web1.root / "var/lib/my-service").exists()
    assert act(prov, "uninstall")["outcome"] == "unchanged"


def test_it_survives_a_reboot_and_is_gone_when_the_server_stops(
    prov, web1, prov_home: Path, settings: Callable[..., None]
) -> None:
    install(prov, "--wait")

    rebooted = prov("server", "reboot", "web-1", "--wait", "-o", "json")
    assert rebooted.exit_code == 0, rebooted.output
    # the sandbox's boot runs the supervisor, which starts every enabled service again
    eventually(lambda: web1.get("/health")[0] == 200, "my-service answering after the reboot")
    after = status(prov)
    assert (after["running"], after["healthy"], after["version"]) == (True, True, "1.1.0")
    assert json.loads((web1.root / STATE).read_text())["starts"] == 2  # a new process

    port = web1.port()
    stopped = prov("server", "stop", "web-1", "--wait", "-o", "json")
    assert stopped.exit_code == 0, stopped.output
    with pytest.raises(OSError):
        web1.get("/health", port)
    assert sandbox_processes(prov_home) == set()


def test_status_tells_a_stale_process_and_restart_replaces_it(
    prov, web1, settings: Callable[..., None]
) -> None:
    install(prov, "--wait")
    # someone swapped the program behind the service manager's back
    (web1.root / BINARY).write_bytes(payload.binary("1.0.0"))
    stale = status(prov)
    assert stale["version"] == "1.0.0"
    assert "the process runs 1.1.0, not 1.0.0: restart it" in stale["message"]

    assert act(prov, "restart", "--check")["actions"] == ["would restart service my-service"]
    assert web1.get_json("/version") == {"version": "1.1.0"}
    restarted = act(prov, "restart", "--wait")
    assert restarted["actions"] == ["restart service my-service"]
    assert web1.get_json("/version") == {"version": "1.0.0"}
    assert "restart it" not in status(prov)["message"]
    assert json.loads((web1.root / STATE).read_text())["starts"] == 2


def test_a_service_that_dies_is_reported_not_running_with_where_to_look(
    prov, web1, settings: Callable[..., None]
) -> None:
    install(prov, "--wait")
    # a config the program refuses: it exits at once, and the supervisor gives up
    (web1.root / CONFIG).write_text("{}")
    act(prov, "restart")
    dead = eventually(
        lambda: (s := status(prov))["systemd_status"] == "failed" and s,
        "my-service reported failed once its supervisor gave up",
    )
    assert dead["installed"] is True
    assert dead["running"] is False
    assert dead["healthy"] is None
    assert dead["message"].startswith(
        "installed but failed: its service manager gave up restarting it; see its log, "
        "/var/log/my-service.log; last lines of its log:\n"
    )
    assert "lacks listen" in dead["message"]  # the log's last lines, where to look and what
    assert "lacks listen" in (web1.root / "var/log/my-service.log").read_text()


def test_a_wait_stops_at_once_when_the_service_gives_up(
    prov, web1, settings: Callable[..., None]
) -> None:
    import socket

    with socket.socket() as squatter:  # the service's port is taken: it cannot start
        squatter.bind((web1.address, 0))
        squatter.listen()
        settings(port=squatter.getsockname()[1])
        run = prov("taskserv", "install", "my-service", "--server", "web-1", "--wait", "-o", "json")
    assert run.exit_code == 1, run.output
    [result] = run.json()["results"]
    assert result["outcome"] == "failed"
    assert "gave up restarting it" in result["error"]
    assert "last lines of its log" in result["error"]
    # it stopped because the supervisor gave up, not at the wait's deadline (600 s)
    assert "not reached within" not in result["error"]


def test_diffs_are_opt_in_and_structured_in_json(prov, web1, settings: Callable[..., None]) -> None:
    settings()
    plan = prov("taskserv", "install", "my-service", "--server", "web-1", "--check", "-o", "json")
    assert plan.exit_code == 0, plan.output
    [result] = plan.json()["results"]
    # actions are one line per change; the diffs are the changes' records
    assert not any(a.startswith(("---", "+++", "@@")) for a in result["actions"])
    config = next(c for c in result["data"]["changes"] if "config.json" in c["change"])
    assert config["step"].startswith("file ")
    assert config["diff"].startswith("--- /etc/my-service/config.json\n+++ ")
    quiet = prov("taskserv", "install", "my-service", "--server", "web-1", "--check", "-o", "table")
    assert "+++ /etc/my-service/config.json" not in quiet.stdout
    assert "create /etc/my-service/config.json" in quiet.stdout
    shown = prov(
        "taskserv", "install", "my-service", "--server", "web-1", "--check", "--diff", "-o", "table"
    )
    assert "+++ /etc/my-service/config.json" in shown.stdout
    assert '+  "port":' in shown.stdout
