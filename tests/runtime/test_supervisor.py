"""Services in a sandbox, run by the supervisor: a real python http server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from provisioning_core.errors import ProvisioningError
from provisioning_core.models import HealthCheck
from provisioning_core.runtime import (
    Directory,
    File,
    Host,
    Service,
    ServiceDefinition,
    apply_steps,
    check_health,
)
from provisioning_core.runtime.services import ServiceState, Supervisor

from .conftest import free_port, kill_sandbox, sandbox_env, sandbox_pids, wait_until


def web(host: Host, port: int, **changes) -> ServiceDefinition:
    fields = {
        "name": "web",
        "exec": [
            sys.executable,
            "-m",
            "http.server",
            str(port),
            "--bind",
            "127.0.0.1",
            "--directory",
            host.path("/srv"),
        ],
        "description": "a test web server",
        "env": {"GREETING": "hello"},
    }
    return ServiceDefinition(**{**fields, **changes})


def environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def running_pid(host: Host, name: str = "web", other_than: int | None = None) -> int:
    def ready() -> int | None:
        state = host.services.status(name)
        return state.pid if state.running and state.pid != other_than else None

    return wait_until(ready)


def healthy(host: Host, port: int) -> bool:
    check = HealthCheck(
        type="http", port=port, endpoint="/index.html", interval=0.2, timeout=2, retries=25
    )
    return check_health(host, check, address="127.0.0.1").healthy


def test_service_lifecycle(host, sandbox, tmp_path):  # noqa: PLR0915 - one life, in order
    port = free_port()
    d = web(host, port)
    steps = [Directory("/srv"), File("/srv/index.html", "hi\n"), Service(d)]
    result = apply_steps(host, steps, check=False)
    at = result.actions.index("install service web, start service web")
    diff = result.details["changes"][at]["diff"]
    assert diff.split("\n")[:2] == [
        "--- service web (supervisor unit)",
        "+++ service web (supervisor unit)",
    ]
    assert json.loads((sandbox / "etc/prov-services/web.json").read_text())["exec"] == d.exec
    assert (sandbox / "etc/prov-services/enabled/web").exists()
    rc = sandbox / "etc/rc.d/50-prov-services"
    assert os.access(rc, os.X_OK)
    assert (sandbox / ".prov/supervisor.py").is_file()

    pid = running_pid(host)
    assert healthy(host, port)
    assert check_health(host, HealthCheck(type="tcp", port=port), address="127.0.0.1").healthy
    command = HealthCheck(type="command", command=f"test -f {host.path('/srv/index.html')}")
    assert check_health(host, command).healthy

    env = environ(pid)
    assert env["GREETING"] == "hello"
    assert env["PROV_SANDBOX_ROOT"] == str(sandbox)  # the provider finds it by this
    state = host.services.status("web")
    assert state.installed
    assert state.running
    assert state.enabled
    assert state.pid == pid
    assert state.uptime_seconds is not None
    assert state.uptime_seconds >= 0
    assert state.memory_mb is not None
    assert state.memory_mb > 1
    # the monitor is detached: its own session, not a child of this process
    monitor = os.getpgid(pid)
    assert os.getsid(monitor) == monitor
    assert (
        int(Path(f"/proc/{monitor}/stat").read_text().rsplit(")", 1)[1].split()[1]) != os.getpid()
    )
    assert "prov-supervisor[web]: starting" in (sandbox / "var/log/web.log").read_text()

    assert not apply_steps(host, steps, check=False).changed

    restarted = apply_steps(host, [Service(d, state="restarted")], check=False)
    assert restarted.actions == ["restart service web"]
    pid2 = running_pid(host, other_than=pid)
    assert pid2 != pid
    assert healthy(host, port)

    # a changed unit is rewritten and the running service restarted
    d2 = web(host, port, env={"GREETING": "bonjour"})
    changed = apply_steps(host, [Service(d2)], check=False)
    assert changed.actions[0] == "update service web, restart service web"
    diff = changed.details["changes"][0]["diff"].split("\n")
    assert '-    "GREETING": "hello"' in diff
    assert '+    "GREETING": "bonjour"' in diff
    pid3 = running_pid(host, other_than=pid2)
    assert environ(pid3)["GREETING"] == "bonjour"

    stopped = apply_steps(host, [Service(d2, state="stopped")], check=False)
    assert stopped.actions == ["stop service web"]
    state = host.services.status("web")
    assert (state.running, state.pid, state.uptime_seconds) == (False, None, None)
    assert not Path(f"/proc/{pid3}").exists()
    tcp = HealthCheck(type="tcp", port=port, retries=1)
    assert not check_health(host, tcp, address="127.0.0.1").healthy
    assert sandbox_pids(tmp_path) == []  # monitor and service are gone
    assert not apply_steps(host, [Service(d2, state="stopped")], check=False).changed

    removed = apply_steps(host, [Service(d2, state="absent")], check=False)
    assert removed.actions == ["remove service web"]
    assert not (sandbox / "etc/prov-services/web.json").exists()
    assert host.services.status("web") == ServiceState(
        name="web", installed=False, running=False, enabled=False
    )
    assert not apply_steps(host, [Service(d2, state="absent")], check=False).changed


def test_on_failure_restarts_a_killed_service(local_host, sandbox):
    port = free_port()
    steps = [File("/srv/index.html", "hi\n"), Service(web(local_host, port))]
    apply_steps(local_host, steps, check=False)
    pid = running_pid(local_host)
    os.kill(pid, signal.SIGKILL)
    new = running_pid(local_host, other_than=pid)
    assert new != pid
    assert healthy(local_host, port)
    log = (sandbox / "var/log/web.log").read_text()
    assert "exited with status -9" in log
    local_host.services.stop("web")


def test_restart_no_leaves_a_dead_service_dead(local_host, sandbox):
    d = ServiceDefinition(name="once", exec=["sleep", "30"], restart="no")
    apply_steps(local_host, [Service(d)], check=False)
    pid = running_pid(local_host, "once")
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not local_host.services.status("once").running)
    wait_until(lambda: not sandbox_pids(sandbox))  # the monitor ended too
    assert json.loads((sandbox / "run/prov-services/once.json").read_text())["last_exit"] == -9


def test_a_service_that_cannot_start_is_reported(local_host, sandbox):
    d = ServiceDefinition(name="broken", exec=["/nonexistent/binary"], restart="no")
    with pytest.raises(ProvisioningError) as info:
        apply_steps(local_host, [Service(d)], check=False)
    message = str(info.value)
    assert message.startswith("service broken on sandbox-local: command failed on sandbox-local")
    assert f"service 'broken' did not start; see {sandbox}/var/log/broken.log" in message
    assert "cannot start" in (sandbox / "var/log/broken.log").read_text()


def test_stop_kills_the_whole_group_even_when_term_is_ignored(local_host, sandbox):
    # a service that ignores SIGTERM and has a child of its own
    script = "trap '' TERM; sleep 300 & wait"
    d = ServiceDefinition(name="stubborn", exec=["/bin/sh", "-c", script])
    apply_steps(local_host, [Service(d)], check=False)
    running_pid(local_host, "stubborn")
    wait_until(lambda: len(sandbox_pids(sandbox)) >= 3)  # monitor, sh, sleep
    script_path = local_host.path("/.prov/supervisor.py")
    local_host.run(f'"$PROV_PYTHON" {script_path} --timeout 0.5 stop stubborn')
    assert sandbox_pids(sandbox) == []
    assert not local_host.services.status("stubborn").running


def test_boot_starts_enabled_units_only(local_host, sandbox):
    port = free_port()
    apply_steps(
        local_host,
        [
            File("/srv/index.html", "hi\n"),
            Service(web(local_host, port)),
            Service(ServiceDefinition(name="manual", exec=["sleep", "60"]), enabled=False),
        ],
        check=False,
    )
    first = running_pid(local_host)
    assert local_host.services.status("manual").running  # started, but not at boot
    assert local_host.services.status("manual").enabled is False

    kill_sandbox(sandbox)  # the sandbox goes down: every process of it dies
    assert not local_host.services.status("web").running
    # the local provider runs etc/rc.d/* when the sandbox boots
    subprocess.run(
        [str(sandbox / "etc/rc.d/50-prov-services")],
        env=sandbox_env(sandbox),
        cwd=sandbox,
        check=True,
    )
    assert running_pid(local_host, other_than=first)
    assert healthy(local_host, port)
    assert not local_host.services.status("manual").running
    local_host.services.stop("web")

    # without PROV_SANDBOX_ROOT the hook finds its root from where it lives
    env = {k: v for k, v in sandbox_env(sandbox).items() if k != "PROV_SANDBOX_ROOT"}
    subprocess.run([str(sandbox / "etc/rc.d/50-prov-services")], env=env, cwd="/", check=True)
    running_pid(local_host)
    local_host.services.stop("web")


def test_status_of_a_pristine_sandbox_uploads_nothing(local_host, sandbox):
    manager = Supervisor(local_host)
    assert manager.status("web") == ServiceState(
        name="web", installed=False, running=False, enabled=False
    )
    assert manager.installed("web") is None
    assert list(sandbox.iterdir()) == []


def test_a_malformed_unit_is_explained(local_host):
    local_host.write("/etc/prov-services/bad.json", b"{not json")
    with pytest.raises(
        ProvisioningError,
        match=r"the unit /etc/prov-services/bad.json on sandbox-local is malformed",
    ):
        Supervisor(local_host).installed("bad")


def test_service_definition_validation():
    with pytest.raises(ValueError, match=r"invalid service name '\.\./etc'"):
        ServiceDefinition(name="../etc", exec=["x"])
    with pytest.raises(ValueError, match="exec is empty"):
        ServiceDefinition(name="x", exec=[])
    with pytest.raises(ValueError, match="invalid restart 'sometimes'"):
        ServiceDefinition(name="x", exec=["x"], restart="sometimes")
    with pytest.raises(ProvisioningError, match="unknown state 'running'"):
        Service(ServiceDefinition(name="x", exec=["x"]), state="running")
