"""The systemd manager: the unit it writes and the exact systemctl commands it runs.

systemd cannot run here, so `systemctl` is a real executable on PATH that
records its arguments and prints what `systemctl show` would print.
"""

from __future__ import annotations

import os
from pathlib import Path

import attrs
import pytest

from provisioning_core.errors import ProvisioningError
from provisioning_core.runtime import (
    CommandError,
    Host,
    LocalTransport,
    Service,
    ServiceDefinition,
    apply_steps,
)
from provisioning_core.runtime.services import ServiceState, Systemd

FAKE = """#!/bin/sh
printf '%s\\n' "$*" >> "$FAKE_SYSTEMCTL_LOG"
if [ "$1" = show ]; then cat "$FAKE_SYSTEMCTL_SHOW"; fi
exit "${FAKE_SYSTEMCTL_EXIT:-0}"
"""


class FakeSystemd:
    def __init__(self, tmp_path: Path, sandbox: Path) -> None:
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        script = bin_dir / "systemctl"
        script.write_text(FAKE)
        script.chmod(0o755)
        self.log = tmp_path / "systemctl.log"
        self.show = tmp_path / "show.txt"
        self.env = {
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "FAKE_SYSTEMCTL_LOG": str(self.log),
            "FAKE_SYSTEMCTL_SHOW": str(self.show),
        }
        self.set_show(LoadState="not-found", ActiveState="inactive", MainPID="0")
        self.host = Host(LocalTransport(root=sandbox, env=self.env), name="web-1")
        self.host.services = Systemd(self.host)

    def set_show(self, **values: str) -> None:
        self.show.write_text("".join(f"{k}={v}\n" for k, v in values.items()))

    def calls(self) -> list[str]:
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        self.log.unlink(missing_ok=True)
        return lines


@pytest.fixture
def fake(tmp_path, sandbox) -> FakeSystemd:
    return FakeSystemd(tmp_path, sandbox)


DEFINITION = ServiceDefinition(
    name="my-service",
    exec=[
        "/usr/local/bin/my-service",
        "--config",
        "/etc/my service/config.yaml",
        "--pct=50%",
        "$HOME",
    ],
    description="My service",
    env={"B": "two words", "A": 'quote " here'},
    working_dir="/var/lib/my-service",
    user="svc",
    restart="always",
)

UNIT = """\
# Managed by provisioning: changes made here are overwritten.
[Unit]
Description=My service
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart=/usr/local/bin/my-service --config "/etc/my service/config.yaml" --pct=50%% "$$HOME"
WorkingDirectory=/var/lib/my-service
User=svc
Environment="A=quote \\" here"
Environment="B=two words"
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
"""


def test_unit_text(fake):
    assert fake.host.services.unit_text(DEFINITION) == UNIT


def test_unit_text_reads_back_to_the_same_definition(fake):
    manager = fake.host.services
    fake.host.write("/etc/systemd/system/my-service.service", UNIT.encode())
    assert manager.installed("my-service") == DEFINITION
    minimal = ServiceDefinition(name="m", exec=["/bin/m"])
    fake.host.write("/etc/systemd/system/m.service", manager.unit_text(minimal).encode())
    assert manager.installed("m") == minimal
    assert manager.installed("absent") is None


def test_line_breaks_are_refused(fake):
    with pytest.raises(ProvisioningError, match="cannot hold a line break in env"):
        fake.host.services.unit_text(ServiceDefinition(name="x", exec=["/x"], env={"A": "1\n2"}))


def test_install_and_start_runs_these_commands(fake, sandbox):
    result = apply_steps(fake.host, [Service(DEFINITION)], check=False)
    assert result.actions[0] == "install service my-service, start service my-service"
    assert (sandbox / "etc/systemd/system/my-service.service").read_text() == UNIT
    assert fake.calls() == [
        "show my-service --property=LoadState,ActiveState,MainPID,UnitFileState,MemoryCurrent,ActiveEnterTimestampMonotonic",
        "daemon-reload",
        "enable my-service",
        "start my-service",
    ]


def test_installed_and_running_is_left_alone(fake):
    fake.host.write("/etc/systemd/system/my-service.service", UNIT.encode())
    fake.set_show(LoadState="loaded", ActiveState="active", MainPID="4242", UnitFileState="enabled")
    assert not apply_steps(fake.host, [Service(DEFINITION)], check=False).changed
    assert [c.split()[0] for c in fake.calls()] == ["show"]


def test_changed_unit_is_rewritten_and_restarted(fake):
    fake.host.write("/etc/systemd/system/my-service.service", UNIT.encode())
    fake.set_show(LoadState="loaded", ActiveState="active", MainPID="4242", UnitFileState="enabled")
    changed = attrs.evolve(DEFINITION, restart="on-failure")
    result = apply_steps(fake.host, [Service(changed)], check=False)
    assert result.actions == ["update service my-service, restart service my-service"]
    assert result.details["changes"][0]["diff"].rstrip("\n").split("\n") == [
        "--- service my-service (systemd unit)",
        "+++ service my-service (systemd unit)",
        "@@ -11,7 +11,7 @@",
        " User=svc",
        ' Environment="A=quote \\" here"',
        ' Environment="B=two words"',
        "-Restart=always",
        "+Restart=on-failure",
        " RestartSec=2",
        " ",
        " [Install]",
    ]
    assert fake.calls()[1:] == ["daemon-reload", "enable my-service", "restart my-service"]


def test_disabling_stopping_and_removing(fake, sandbox):
    fake.host.write("/etc/systemd/system/my-service.service", UNIT.encode())
    fake.set_show(LoadState="loaded", ActiveState="active", MainPID="4242", UnitFileState="enabled")
    result = apply_steps(
        fake.host, [Service(DEFINITION, state="stopped", enabled=False)], check=False
    )
    assert result.actions == ["update service my-service, stop service my-service"]
    assert fake.calls()[1:] == ["daemon-reload", "disable my-service", "stop my-service"]

    result = apply_steps(fake.host, [Service(DEFINITION, state="absent")], check=False)
    assert result.actions == ["remove service my-service"]
    assert fake.calls() == ["disable --now my-service", "daemon-reload"]
    assert not (sandbox / "etc/systemd/system/my-service.service").exists()


def test_check_mode_only_looks(fake, sandbox):
    result = apply_steps(fake.host, [Service(DEFINITION)], check=True)
    assert result.actions[0] == "would install service my-service, start service my-service"
    assert [c.split()[0] for c in fake.calls()] == ["show"]
    assert not (sandbox / "etc").exists()


def test_status_from_systemctl_show(fake):
    fake.set_show(
        LoadState="loaded",
        ActiveState="active",
        MainPID="4242",
        UnitFileState="enabled",
        MemoryCurrent=str(50 * 1024 * 1024),
        ActiveEnterTimestampMonotonic="1000000",
    )
    state = fake.host.services.status("my-service")
    uptime = float(Path("/proc/uptime").read_text().split()[0]) - 1.0
    assert (
        state.name,
        state.installed,
        state.running,
        state.pid,
        state.memory_mb,
        state.enabled,
    ) == (
        "my-service",
        True,
        True,
        4242,
        50.0,
        True,
    )
    assert state.uptime_seconds == pytest.approx(uptime, abs=5)
    fake.set_show(
        LoadState="loaded",
        ActiveState="failed",
        MainPID="0",
        UnitFileState="disabled",
        MemoryCurrent="[not set]",
    )
    # systemd gave up on it: a state of its own, which a wait need not outwait
    assert fake.host.services.status("my-service") == ServiceState(
        name="my-service", installed=True, running=False, enabled=False, failed=True
    )


def test_a_failing_systemctl_is_a_command_error(fake):
    fake.env["FAKE_SYSTEMCTL_EXIT"] = "5"
    fake.host.transport.env.update(fake.env)
    with pytest.raises(CommandError) as info:
        fake.host.services.start("my-service")
    assert (info.value.command, info.value.exit_status, info.value.host) == (
        "systemctl start my-service",
        5,
        "web-1",
    )


def test_a_forced_removal_goes_on_past_a_stop_that_fails(fake, sandbox):
    from provisioning_core.runtime import remove_service

    fake.host.write("/etc/systemd/system/my-service.service", UNIT.encode())
    fake.env["FAKE_SYSTEMCTL_EXIT"] = "1"  # every systemctl fails: the service will not stop
    fake.host.transport.env.update(fake.env)
    with pytest.raises(CommandError):
        remove_service(fake.host, "my-service", force=False)
    assert (sandbox / "etc/systemd/system/my-service.service").exists()
    fake.calls()
    said = remove_service(fake.host, "my-service", force=True)
    assert said.startswith("could not stop service my-service (")
    assert said.endswith("removed its unit anyway (--force)")
    assert fake.calls() == [
        "disable --now my-service",
        "kill --signal=SIGKILL my-service",
        "disable my-service",
        "daemon-reload",
    ]
    assert not (sandbox / "etc/systemd/system/my-service.service").exists()
