"""A tiny service supervisor for local sandboxes, where systemd cannot run.

This file is uploaded as ``<root>/.prov/supervisor.py`` and run with the
sandbox's Python (``$PROV_PYTHON``); it needs nothing but the standard library.
It is also importable (the manager in :mod:`provisioning_core.runtime.services`
reads its source to upload it).

Layout under the sandbox root::

    etc/prov-services/NAME.json      the unit (written by the manager)
    etc/prov-services/enabled/NAME   present when the unit starts at boot
    run/prov-services/NAME.json      the running monitor: pids, start time
    var/log/NAME.log                 everything the service and its monitor print
    etc/rc.d/50-prov-services        runs `supervisor.py boot` when the sandbox boots

``start`` detaches a monitor (double fork, new session) that survives whoever
started it.  The monitor runs the service as a child in its own process group
and restarts it per the unit's policy; ``stop`` signals the whole group, so
whatever the service started goes too.  Services inherit the environment, so
the PROV_SANDBOX_* variables by which a sandbox finds its processes carry over.

Usage: supervisor.py [--root ROOT] start|stop|restart|status|monitor|boot [NAME]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL
START_TIMEOUT = 10.0  # seconds `start` waits for the monitor to report the service's pid
RAPID = 10.0  # a service that dies sooner than this counts as a rapid failure
MAX_RAPID = 5  # consecutive rapid failures after which the monitor gives up
BACKOFF_CAP = 30.0


class Layout:
    """Where everything lives under one sandbox root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.units = root / "etc" / "prov-services"
        self.enabled = self.units / "enabled"
        self.run = root / "run" / "prov-services"
        self.logs = root / "var" / "log"

    def unit(self, name: str) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads((self.units / f"{name}.json").read_text())
        except FileNotFoundError:
            return None
        return data

    def state_file(self, name: str) -> Path:
        return self.run / f"{name}.json"

    def stopping_file(self, name: str) -> Path:
        return self.run / f"{name}.stopping"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def state(self, name: str) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.state_file(name).read_text())
        except (FileNotFoundError, ValueError):
            return {}
        return data

    def write_state(self, name: str, state: dict[str, Any]) -> None:
        self.run.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file(name).with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(self.state_file(name))


# --- processes --------------------------------------------------------------------------


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, process group) of ``pid`` from /proc; None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = text.rsplit(")", 1)[1].split()
    return fields[0], int(fields[2])


def alive(pid: int | None) -> bool:
    """Whether ``pid`` runs (a zombie does not)."""
    if not pid:
        return False
    stat = _proc_stat(pid)
    return stat is not None and stat[0] not in {"Z", "X"}


def group_members(pgid: int) -> list[int]:
    """Live processes of process group ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _proc_stat(int(entry.name))
            if stat is not None and stat[1] == pgid and stat[0] not in {"Z", "X"}:
                members.append(int(entry.name))
    return members


def is_monitor(pid: int | None, name: str) -> bool:
    """Whether ``pid`` is the monitor of ``name`` (pids are reused after a reboot)."""
    if not alive(pid):
        return False
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    return b"monitor" in argv and name.encode() in argv


def memory_mb(pid: int) -> float | None:
    """Resident memory of ``pid`` in MiB, from /proc/PID/status VmRSS."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError, ValueError):
        return None
    return None


# --- commands ---------------------------------------------------------------------------


def status(layout: Layout, name: str) -> dict[str, Any]:
    """The service's state as the manager reads it."""
    unit = layout.unit(name)
    state = layout.state(name)
    running = is_monitor(state.get("monitor"), name) and alive(state.get("pid"))
    pid = state.get("pid") if running else None
    started = state.get("started_at")
    return {
        "name": name,
        "installed": unit is not None,
        "enabled": (layout.enabled / name).exists(),
        "running": running,
        "pid": pid,
        "uptime_seconds": max(0.0, time.time() - started) if running and started else None,
        "memory_mb": memory_mb(pid) if pid else None,
        "restarts": state.get("restarts", 0),
        "last_exit": state.get("last_exit"),
        # the supervisor gave up restarting it: down until it is started again
        "failed": not running and bool(state.get("gave_up")),
    }


def start(layout: Layout, name: str) -> int:
    """Start ``name`` unless it runs; 0 once its process exists."""
    if layout.unit(name) is None:
        sys.stderr.write(f"no service {name!r}: {layout.units}/{name}.json does not exist\n")
        return 3
    state = layout.state(name)
    if is_monitor(state.get("monitor"), name):
        return 0
    layout.stopping_file(name).unlink(missing_ok=True)
    layout.write_state(name, {"starting": True})
    layout.logs.mkdir(parents=True, exist_ok=True)
    _spawn_monitor(layout, name)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        state = layout.state(name)
        if state.get("pid") or "last_exit" in state:
            break
        time.sleep(0.05)
    state = layout.state(name)
    if not state.get("pid") and not is_monitor(state.get("monitor"), name):
        sys.stderr.write(f"service {name!r} did not start; see {layout.log(name)}\n")
        return 1
    return 0


def _spawn_monitor(layout: Layout, name: str) -> None:
    """Double fork: the monitor is orphaned at once and leads a new session and group."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--root", str(layout.root)]
    argv += ["monitor", name]
    child = os.fork()
    if child:
        os.waitpid(child, 0)
        return
    try:  # pragma: no cover - runs in the forked child
        if os.fork():
            os._exit(0)
        # the monitor leads a new session and process group: its pid is the group's id
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDONLY)
        log = os.open(layout.log(name), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(devnull, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.closerange(3, 1 << 16)
        os.chdir(layout.root)
        os.execv(sys.executable, argv)  # noqa: S606 - argv is our own interpreter and script
    finally:
        os._exit(127)


def monitor(layout: Layout, name: str) -> int:
    """Run the service, restarting it per policy, until told to stop."""
    unit = layout.unit(name)
    if unit is None:
        return 3
    runner = _Runner(layout, name, unit)
    signal.signal(signal.SIGTERM, runner.on_term)
    signal.signal(signal.SIGINT, runner.on_term)
    runner.loop()
    return 0


class _Runner:
    """The monitor's state: the child, its restarts, whether a stop was asked."""

    def __init__(self, layout: Layout, name: str, unit: dict[str, Any]) -> None:
        self.layout, self.name, self.unit = layout, name, unit
        self.stopping = False
        self.child: subprocess.Popen[bytes] | None = None
        self.env = dict(os.environ)
        self.env.update(unit.get("env") or {})

    def on_term(self, _signum: int, _frame: object) -> None:
        self.stopping = True
        if self.child is not None and self.child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.child.terminate()

    def run_once(self, restarts: int) -> int:
        """Run the service until it exits; its exit status."""
        _say(self.name, f"starting: {self.unit['exec']}")
        try:
            self.child = subprocess.Popen(  # noqa: S603 - running the unit's command is the point
                self.unit["exec"],
                cwd=self.unit.get("working_dir") or str(self.layout.root),
                env=self.env,
                stdin=subprocess.DEVNULL,
            )
        except OSError as exc:
            _say(self.name, f"cannot start: {exc}")
            self.child = None
            return 127
        self.layout.write_state(
            self.name,
            {
                "monitor": os.getpid(),
                "pid": self.child.pid,
                "started_at": time.time(),
                "restarts": restarts,
            },
        )
        code = self.child.wait()
        _say(self.name, f"exited with status {code}")
        return code

    def loop(self) -> None:
        policy = self.unit.get("restart", "on-failure")
        restarts, rapid, code = 0, 0, 0
        while not self.stopping:
            began = time.monotonic()
            code = self.run_once(restarts)
            if self.stopping or self.layout.stopping_file(self.name).exists():
                break
            if policy == "no" or (policy == "on-failure" and code == 0):
                break
            rapid = rapid + 1 if time.monotonic() - began < RAPID else 0
            if rapid >= MAX_RAPID:
                _say(self.name, f"failed {rapid} times in a row within {RAPID:g} s; giving up")
                self.layout.write_state(
                    self.name, {"last_exit": code, "restarts": restarts, "gave_up": True}
                )
                return
            restarts += 1
            self.layout.write_state(
                self.name,
                {"monitor": os.getpid(), "pid": None, "restarts": restarts, "last_exit": code},
            )
            deadline = time.monotonic() + min(BACKOFF_CAP, 0.5 * 2 ** max(0, rapid - 1))
            while not self.stopping and time.monotonic() < deadline:
                time.sleep(0.05)
        self.layout.write_state(self.name, {"last_exit": code, "restarts": restarts})


def _say(name: str, message: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    sys.stderr.write(f"{stamp} prov-supervisor[{name}]: {message}\n")
    sys.stderr.flush()


def stop(layout: Layout, name: str, timeout: float = STOP_TIMEOUT) -> int:
    """SIGTERM the service's process group, SIGKILL whatever is left after ``timeout``."""
    state = layout.state(name)
    pgid = state.get("monitor")
    if not is_monitor(pgid, name):
        return 0
    assert isinstance(pgid, int)
    layout.run.mkdir(parents=True, exist_ok=True)
    layout.stopping_file(name).touch()
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if group_members(pgid):
        _signal_group(pgid, signal.SIGKILL)
        while group_members(pgid):
            time.sleep(0.05)
        layout.write_state(name, {"last_exit": -9})
    return 0


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def boot(layout: Layout) -> int:
    """Start every enabled unit (the sandbox just booted)."""
    failed = 0
    names = sorted(p.name for p in layout.enabled.iterdir()) if layout.enabled.is_dir() else []
    for name in names:
        failed |= start(layout, name) != 0
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="supervisor.py", description=__doc__.split("\n")[0])
    parser.add_argument("--root", help="the sandbox root (default: $PROV_SANDBOX_ROOT)")
    parser.add_argument("--timeout", type=float, default=STOP_TIMEOUT, help="stop timeout (s)")
    parser.add_argument(
        "command", choices=["start", "stop", "restart", "status", "monitor", "boot"]
    )
    parser.add_argument("name", nargs="?")
    args = parser.parse_args(argv)
    root = args.root or os.environ.get("PROV_SANDBOX_ROOT") or str(Path(__file__).parent.parent)
    layout = Layout(Path(root).resolve())
    if args.command == "boot":
        return boot(layout)
    if not args.name:
        parser.error(f"{args.command} needs a service name")
    name: str = args.name
    if args.command == "status":
        sys.stdout.write(json.dumps(status(layout, name)) + "\n")
        return 0
    if args.command == "start":
        return start(layout, name)
    if args.command == "stop":
        return stop(layout, name, args.timeout)
    if args.command == "restart":
        stop(layout, name, args.timeout)
        return start(layout, name)
    return monitor(layout, name)


if __name__ == "__main__":
    sys.exit(main())
