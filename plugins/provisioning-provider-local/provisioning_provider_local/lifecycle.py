"""Starting, stopping and observing a sandbox's daemon, from the controller's side."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from provisioning_core import ProvisioningError, ServerStatus

from provisioning_provider_local import procs
from provisioning_provider_local.daemon import MODULE
from provisioning_provider_local.store import RC_TIMEOUT, Meta, Sandbox, daemon_env, read_json

__all__ = ["answering", "daemon_alive", "launch", "log_tail", "status", "stop"]

#: a sandbox recorded "starting" without a live daemon for longer than this
#: was abandoned by a crashed command: it is reported as error
_START_GRACE = 120.0
_POLL = 0.05


def log_tail(sandbox: Sandbox, lines: int = 15) -> str:
    """The last ``lines`` lines of the daemon's log, indented, or a note that there are none."""
    try:
        text = sandbox.log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "  (no log)"
    tail = text.strip().splitlines()[-lines:]
    return "\n".join(f"  {line}" for line in tail) or "  (empty log)"


def _ready(sandbox: Sandbox) -> Mapping[str, Any]:
    try:
        data = read_json(sandbox.ready_path)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _failure(sandbox: Sandbox, meta: Meta, what: str) -> ProvisioningError:
    return ProvisioningError(
        f"the SSH daemon of local server {meta.hostname} ({meta.id}) {what}; "
        f"the end of {sandbox.log_path}:\n{log_tail(sandbox)}",
        hint=f"fix the cause shown in the log, then prov server start {meta.hostname}",
    )


def launch(
    sandbox: Sandbox, meta: Meta, *, port: int | None, exact: bool, timeout: float
) -> tuple[int, int]:
    """Start the daemon and wait until it listens and has booted; return (pid, port).

    Raises :class:`ProvisioningError` with the log's tail when it does not
    listen within ``timeout`` seconds or dies while booting.
    """
    with contextlib.suppress(FileNotFoundError):
        sandbox.ready_path.unlink()
    argv = [sys.executable, "-m", MODULE, "--detach", str(sandbox.dir)]
    if port:
        argv += ["--port", str(port)]
    if exact:
        argv.append("--exact")
    result = subprocess.run(  # noqa: S603 - our own interpreter and module
        argv, capture_output=True, text=True, timeout=60, check=False, env=daemon_env()
    )
    if result.returncode != 0 or not result.stdout.strip().isdigit():
        raise ProvisioningError(
            f"could not launch the SSH daemon of local server {meta.hostname} ({meta.id}): "
            f"{result.stderr.strip() or result.stdout.strip() or f'exit {result.returncode}'}",
            hint="check that provisioning-provider-local is installed in this Python "
            f"({sys.executable})",
        )
    pid = int(result.stdout)
    deadline = time.monotonic() + timeout
    while (ready := _ready(sandbox)).get("pid") != pid:
        if not procs.alive(pid):
            raise _failure(sandbox, meta, "exited while starting")
        if time.monotonic() > deadline:
            _kill(pid)
            raise _failure(sandbox, meta, f"was not listening after {timeout:g} s")
        time.sleep(_POLL)
    # the daemon kills an rc.d script that runs too long; this only guards a wedged daemon
    scripts = sandbox.root / "etc" / "rc.d"
    count = len(list(scripts.iterdir())) if scripts.is_dir() else 0
    deadline = time.monotonic() + timeout + RC_TIMEOUT * (count + 1)
    while not ready.get("booted"):
        if not procs.alive(pid):
            raise _failure(sandbox, meta, "died while running etc/rc.d")
        if time.monotonic() > deadline:
            _kill(pid)
            raise _failure(sandbox, meta, "did not finish running etc/rc.d")
        time.sleep(_POLL)
        ready = _ready(sandbox)
    return pid, int(ready["port"])


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


def _same_path(recorded: bytes, path: Path) -> bool:
    # PROV_HOME may have been spelled differently (through a symlink) when it was recorded
    return recorded == os.fsencode(path) or os.path.realpath(recorded) == os.fsencode(
        path.resolve()
    )


def stop(sandbox: Sandbox) -> list[int]:
    """End the daemon and every process of the sandbox; return the pids signalled."""
    wanted_id = sandbox.id.encode()

    def mine(env: procs.Environ) -> bool:
        root = env.get(b"PROV_SANDBOX_ROOT")
        return (
            env.get(b"PROV_SANDBOX_ID") == wanted_id
            and root is not None
            and _same_path(root, sandbox.root)
        )

    try:
        pids = procs.terminate(mine)
    except OSError as exc:
        raise ProvisioningError(
            f"could not stop every process of local server {sandbox.id}: {exc}",
            hint="end them by hand (kill -9), then try again",
        ) from None
    with contextlib.suppress(FileNotFoundError):
        sandbox.ready_path.unlink()
    return pids


def daemon_alive(sandbox: Sandbox, pid: int | None) -> bool:
    """Whether ``pid`` is alive and is this sandbox's daemon (not a reused pid)."""
    if not pid or not procs.alive(pid):
        return False
    argv = procs.cmdline(pid)
    return MODULE.encode() in argv and any(_same_path(arg, sandbox.dir) for arg in argv)


def answering(address: str, port: int | None, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections on ``address:port``."""
    if not port:
        return False
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def status(sandbox: Sandbox, meta: Meta) -> ServerStatus:
    """What the sandbox is doing now, found out rather than trusted from the record.

    running: the daemon is alive and accepts connections; stopped: stopped on
    purpose; starting: a daemon is being launched; error: the daemon died
    without being asked to (or does not answer).
    """
    if meta.state == "stopped":
        return ServerStatus.STOPPED
    alive = daemon_alive(sandbox, meta.daemon_pid)
    if meta.state == "running":
        if alive and answering(meta.address, meta.port):
            return ServerStatus.RUNNING
        return ServerStatus.ERROR
    recent = meta.launched_at is not None and time.time() - meta.launched_at < _START_GRACE
    return ServerStatus.STARTING if alive or recent else ServerStatus.ERROR
