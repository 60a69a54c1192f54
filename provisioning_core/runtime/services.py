"""Service managers: systemd on real hosts, the supervisor in local sandboxes.

Both take a :class:`ServiceDefinition` and do the same things with it, so a
taskserv's :class:`~provisioning_core.runtime.steps.Service` step works on
either.  ``unit_text`` is exactly what ``install`` writes, which is what the
step diffs against what is installed.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs
from attrs import Factory, field

from provisioning_core.errors import ProvisioningError
from provisioning_core.runtime.transport import CommandError

if TYPE_CHECKING:
    from provisioning_core.runtime.host import Host

__all__ = [
    "ServiceDefinition",
    "ServiceManager",
    "ServiceState",
    "Supervisor",
    "Systemd",
    "remove_service",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")


def _check_name(_: Any, __: attrs.Attribute[str], value: str) -> None:
    if not _NAME.match(value) or value.endswith((".service", ".json")):
        raise ValueError(
            f"invalid service name {value!r}: use letters, digits, '-', '_', '.' and '@' "
            "(without a .service suffix)"
        )


def _check_restart(_: Any, __: attrs.Attribute[str], value: str) -> None:
    if value not in {"always", "on-failure", "no"}:
        raise ValueError(f"invalid restart {value!r}: expected always, on-failure or no")


def _str_list(value: Iterable[str]) -> list[str]:
    return [str(v) for v in value]


def _check_exec(_: Any, __: attrs.Attribute[list[str]], value: list[str]) -> None:
    if not value:
        raise ValueError("exec is empty: give the program and its arguments")


@attrs.frozen
class ServiceDefinition:
    """A long-running process a taskserv installs.

    ``exec`` holds REAL paths (map them with ``host.path()``); ``user`` is
    ignored in sandboxes; ``restart`` is always, on-failure or no.
    """

    name: str = field(validator=_check_name)
    exec: list[str] = field(converter=_str_list, validator=_check_exec)
    description: str = ""
    env: dict[str, str] = Factory(dict)
    working_dir: str | None = None
    user: str | None = None
    restart: str = field(default="on-failure", validator=_check_restart)


@attrs.frozen
class ServiceState:
    """What a service manager says about one service.

    ``enabled`` is whether it starts at boot (None when the manager cannot tell).
    """

    name: str
    installed: bool
    running: bool
    pid: int | None = None
    uptime_seconds: float | None = None
    memory_mb: float | None = None
    enabled: bool | None = None
    #: the manager gave up on it (systemd's "failed", the supervisor's restarts spent):
    #: it stays down until started again, so waiting for it to run is pointless
    failed: bool = False


@runtime_checkable
class ServiceManager(Protocol):
    """Installs, starts, stops and reports services on one host."""

    name: str  # "systemd" | "supervisor"

    def installed(self, name: str) -> ServiceDefinition | None:
        """The definition installed under ``name``; None if there is none."""
        ...

    def unit_text(self, d: ServiceDefinition) -> str:
        """What :meth:`install` writes for ``d`` (used for diffs)."""
        ...

    def install(self, d: ServiceDefinition, *, enabled: bool = True) -> None:
        """Write the unit and enable (or disable) it; does not start or restart it."""
        ...

    def remove(self, name: str) -> None:
        """Stop the service and remove its unit."""
        ...

    def forget(self, name: str) -> None:
        """Remove the unit without stopping the service (after a stop that failed)."""
        ...

    def start(self, name: str) -> None:
        """Start the service (nothing happens if it runs)."""
        ...

    def stop(self, name: str) -> None:
        """Stop the service (nothing happens if it is stopped)."""
        ...

    def restart(self, name: str) -> None:
        """Stop and start the service."""
        ...

    def status(self, name: str) -> ServiceState:
        """The service's state now."""
        ...


# --- systemd -------------------------------------------------------------------------------

_SIMPLE_WORD = re.compile(r"^[A-Za-z0-9_@%+=:,./-]+$")
_HEADER = "# Managed by provisioning: changes made here are overwritten."


def _unit_word(word: str, *, what: str) -> str:
    """One word of an ExecStart or Environment line, quoted the way systemd reads it."""
    if "\n" in word or "\r" in word:
        raise ProvisioningError(
            f"a systemd unit cannot hold a line break in {what}: {word!r}",
            hint="pass multi-line values through a file instead",
        )
    word = word.replace("%", "%%")  # systemd specifiers
    if _SIMPLE_WORD.match(word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unit_words(text: str) -> list[str]:
    return [w.replace("%%", "%") for w in shlex.split(text)]


class Systemd:
    """Services as systemd units in /etc/systemd/system, driven with systemctl."""

    name = "systemd"
    unit_dir = "/etc/systemd/system"

    def __init__(self, host: Host) -> None:
        self.host = host

    def unit_path(self, name: str) -> str:
        """The logical path of ``name``'s unit file."""
        return f"{self.unit_dir}/{name}.service"

    def unit_text(self, d: ServiceDefinition) -> str:
        # '$' would be expanded by systemd in ExecStart; '$$' is a literal '$'
        exec_line = " ".join(_unit_word(w, what="exec").replace("$", "$$") for w in d.exec)
        service = ["Type=simple", f"ExecStart={exec_line}"]
        if d.working_dir:
            service.append(f"WorkingDirectory={_unit_word(d.working_dir, what='working_dir')}")
        if d.user:
            service.append(f"User={_unit_word(d.user, what='user')}")
        service += [
            f"Environment={_unit_word(f'{k}={v}', what='env')}" for k, v in sorted(d.env.items())
        ]
        service += [f"Restart={d.restart}", "RestartSec=2"]
        description = " ".join((d.description or d.name).split())
        lines = [
            _HEADER,
            "[Unit]",
            f"Description={description}",
            "After=network-online.target",
            "Wants=network-online.target",
            "",
            "[Service]",
            *service,
            "",
            "[Install]",
            "WantedBy=multi-user.target",
        ]
        return "\n".join(lines) + "\n"

    def installed(self, name: str) -> ServiceDefinition | None:
        data = self.host.read(self.unit_path(name))
        if data is None:
            return None
        return _parse_unit(name, data.decode("utf-8", errors="replace"))

    def install(self, d: ServiceDefinition, *, enabled: bool = True) -> None:
        self.host.write(self.unit_path(d.name), self.unit_text(d).encode())
        self._systemctl("daemon-reload")
        self._systemctl("enable" if enabled else "disable", d.name)

    def remove(self, name: str) -> None:
        if not self.host.exists(self.unit_path(name)):
            return
        self._systemctl("disable", "--now", name)
        self.host.remove(self.unit_path(name))
        self._systemctl("daemon-reload")

    def forget(self, name: str) -> None:
        # a stop that failed may leave the processes: kill them, as a last resort
        self.host.run(f"systemctl kill --signal=SIGKILL {shlex.quote(name)}", check=False)
        self.host.run(f"systemctl disable {shlex.quote(name)}", check=False)
        self.host.remove(self.unit_path(name))
        self.host.run("systemctl daemon-reload", check=False)

    def start(self, name: str) -> None:
        self._systemctl("start", name)

    def stop(self, name: str) -> None:
        self._systemctl("stop", name)

    def restart(self, name: str) -> None:
        self._systemctl("restart", name)

    def status(self, name: str) -> ServiceState:
        properties = "LoadState,ActiveState,MainPID,UnitFileState,MemoryCurrent"
        properties += ",ActiveEnterTimestampMonotonic"
        result = self.host.run(
            f"systemctl show {shlex.quote(name)} --property={properties} && cat /proc/uptime"
        )
        lines = result.text().splitlines()
        values = dict(line.split("=", 1) for line in lines if "=" in line)
        uptime_line = next((line for line in reversed(lines) if "=" not in line), "")
        installed = values.get("LoadState") == "loaded"
        running = values.get("ActiveState") in {"active", "reloading"}
        pid = _int(values.get("MainPID"))
        memory = _int(values.get("MemoryCurrent"))
        entered = _int(values.get("ActiveEnterTimestampMonotonic"))
        boot_seconds = float(uptime_line.split()[0]) if uptime_line.strip() else None
        uptime = None
        if running and entered and boot_seconds is not None:
            uptime = max(0.0, boot_seconds - entered / 1e6)
        return ServiceState(
            name=name,
            installed=installed,
            running=running,
            pid=pid if running and pid else None,
            uptime_seconds=uptime,
            memory_mb=memory / (1024 * 1024) if running and memory is not None else None,
            enabled=values.get("UnitFileState") == "enabled" if installed else None,
            failed=values.get("ActiveState") == "failed",
        )

    def _systemctl(self, *args: str) -> None:
        self.host.run(" ".join(["systemctl", *map(shlex.quote, args)]))


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:  # "[not set]", "infinity"
        return None


def _parse_unit(name: str, text: str) -> ServiceDefinition:
    """Read back a unit :meth:`Systemd.unit_text` wrote (other keys are ignored)."""
    values: dict[str, str] = {}
    env: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";", "[")) or "=" not in line:
            continue
        key, value = line.split("=", 1)
        if key == "Environment":
            for word in _unit_words(value):
                k, _, v = word.partition("=")
                env[k] = v
        else:
            values[key] = value
    exec_words = _unit_words(values.get("ExecStart", "").replace("$$", "$")) or ["?"]
    working = _unit_words(values["WorkingDirectory"]) if "WorkingDirectory" in values else []
    user = _unit_words(values["User"]) if "User" in values else []
    restart = values.get("Restart", "no")
    return ServiceDefinition(
        name=name,
        exec=exec_words,
        description="" if values.get("Description") == name else values.get("Description", ""),
        env=env,
        working_dir=working[0] if working else None,
        user=user[0] if user else None,
        restart=restart if restart in {"always", "on-failure", "no"} else "no",
    )


# --- the sandbox supervisor -------------------------------------------------------------------

_RC = """#!/bin/sh
# Installed by provisioning: starts the enabled services when the sandbox boots.
root="${PROV_SANDBOX_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
exec "${PROV_PYTHON:-python3}" "$root/.prov/supervisor.py" --root "$root" boot
"""


class Supervisor:
    """Services in a local sandbox, run by ``supervisor.py`` (see that module).

    Read-only calls (``installed``, ``unit_text``, ``status``) upload nothing,
    so check mode leaves the sandbox untouched.
    """

    name = "supervisor"
    script = "/.prov/supervisor.py"
    rc_script = "/etc/rc.d/50-prov-services"
    units = "/etc/prov-services"

    def __init__(self, host: Host) -> None:
        self.host = host
        self._uploaded = False

    def unit_path(self, name: str) -> str:
        """The logical path of ``name``'s unit."""
        return f"{self.units}/{name}.json"

    def unit_text(self, d: ServiceDefinition) -> str:
        unit = attrs.asdict(d)
        unit.pop("user")  # sandboxes run everything as the sandbox's user
        return json.dumps(unit, indent=2, sort_keys=True) + "\n"

    def installed(self, name: str) -> ServiceDefinition | None:
        data = self.host.read(self.unit_path(name))
        if data is None:
            return None
        try:
            unit = json.loads(data)
            return ServiceDefinition(**unit)
        except (ValueError, TypeError) as exc:
            raise ProvisioningError(
                f"the unit {self.unit_path(name)} on {self.host.name} is malformed: {exc}",
                hint="remove it (Service(..., state='absent')) and install the service again",
            ) from None

    def install(self, d: ServiceDefinition, *, enabled: bool = True) -> None:
        self._ensure_script()
        self.host.write(self.unit_path(d.name), self.unit_text(d).encode())
        marker = f"{self.units}/enabled/{d.name}"
        if enabled:
            self.host.write(marker, b"")
        else:
            self.host.remove(marker)

    def remove(self, name: str) -> None:
        if not self.host.exists(self.unit_path(name)):
            return
        self.stop(name)
        self.forget(name)

    def forget(self, name: str) -> None:
        self.host.remove(self.unit_path(name))
        self.host.remove(f"{self.units}/enabled/{name}")

    def start(self, name: str) -> None:
        self._supervisor("start", name)

    def stop(self, name: str) -> None:
        self._supervisor("stop", name)

    def restart(self, name: str) -> None:
        self._supervisor("restart", name)

    def status(self, name: str) -> ServiceState:
        if not self.host.exists(self.script):
            # nothing was ever started here; uploading the script now would
            # change the sandbox, which a status (or check mode) must not do
            return ServiceState(
                name=name,
                installed=self.host.exists(self.unit_path(name)),
                running=False,
                enabled=self.host.exists(f"{self.units}/enabled/{name}"),
            )
        data = json.loads(self._supervisor("status", name, upload=False))
        return ServiceState(
            name=name,
            installed=data["installed"],
            running=data["running"],
            pid=data["pid"],
            uptime_seconds=data["uptime_seconds"],
            memory_mb=data["memory_mb"],
            enabled=data["enabled"],
            failed=bool(data.get("failed", False)),  # an older uploaded script does not say
        )

    def _supervisor(self, command: str, name: str, *, upload: bool = True) -> str:
        if upload:
            self._ensure_script()
        root = shlex.quote(self.host.root)
        script = shlex.quote(self.host.path(self.script))
        return self.host.run(
            f'"${{PROV_PYTHON:-python3}}" {script} --root {root} {command} {shlex.quote(name)}'
        ).text()

    def _ensure_script(self) -> None:
        """Upload supervisor.py and the rc.d hook once per Host, if they differ."""
        if self._uploaded:
            return
        from provisioning_core.runtime import supervisor

        source = Path(supervisor.__file__).read_bytes()
        if self.host.sha256(self.script) != hashlib.sha256(source).hexdigest():
            self.host.write(self.script, source, 0o755)
        if self.host.read(self.rc_script) != _RC.encode():
            self.host.write(self.rc_script, _RC.encode(), 0o755)
        self._uploaded = True


def remove_service(host: Host, name: str, *, force: bool) -> str:
    """Stop and remove service ``name`` now; what was done, as an action line.

    With ``force`` a service that will not stop (its stop command fails) does
    not stop the uninstall: its unit is removed anyway and the line says so.
    Without it the :class:`CommandError` is raised.
    """
    try:
        host.services.remove(name)
    except CommandError as exc:
        if not force:
            raise
        host.services.forget(name)
        return f"could not stop service {name} ({exc.message}); removed its unit anyway (--force)"
    return f"remove service {name}"
