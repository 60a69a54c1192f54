"""Finding and ending the processes of a sandbox through ``/proc``.

A process belongs to a sandbox when its environment (as it was when the
process started) holds that sandbox's ``PROV_SANDBOX_ID`` and
``PROV_SANDBOX_ROOT``: the daemon, rc.d scripts and every command run over
SSH, with all their children, inherit both.  Stdlib only.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Mapping
from pathlib import Path

__all__ = ["alive", "cmdline", "environ", "matching", "terminate"]

_PROC = Path("/proc")

Environ = Mapping[bytes, bytes]


def environ(pid: int) -> dict[bytes, bytes] | None:
    """The start-up environment of ``pid``; None if it is gone or not ours to read."""
    try:
        raw = (_PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return None
    env: dict[bytes, bytes] = {}
    for item in raw.split(b"\0"):
        name, sep, value = item.partition(b"=")
        if sep:
            env[name] = value
    return env


def cmdline(pid: int) -> list[bytes]:
    """The argv of ``pid`` (empty if it is gone)."""
    try:
        raw = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return raw.rstrip(b"\0").split(b"\0") if raw else []


def alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    # the state letter follows the command name, which sits in parentheses
    return stat[stat.rfind(")") + 2 : stat.rfind(")") + 3] not in ("Z", "X")


def matching(predicate: Callable[[Environ], bool]) -> list[int]:
    """Pids (other than this process) whose environment satisfies ``predicate``."""
    me = os.getpid()
    pids = []
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if pid == me:
            continue  # `prov server stop` run inside the sandbox must finish its work
        env = environ(pid)
        if env and predicate(env) and alive(pid):
            pids.append(pid)
    return pids


def terminate(
    predicate: Callable[[Environ], bool], *, grace: float = 5.0, sleep: float = 0.05
) -> list[int]:
    """SIGTERM every matching process, SIGKILL what is left after ``grace`` seconds.

    The scan is repeated until nothing matches, so children forked meanwhile
    (a supervisor restarting its service) are caught too.  Returns the pids
    signalled.
    """
    signalled: set[int] = set()
    deadline = time.monotonic() + grace
    kill_deadline = deadline + 5.0
    while True:
        pids = matching(predicate)
        if not pids:
            return sorted(signalled)
        now = time.monotonic()
        if now > kill_deadline:
            raise OSError(f"processes {pids} survived SIGKILL")
        sig = signal.SIGTERM if now < deadline else signal.SIGKILL
        for pid in pids:
            if pid not in signalled or sig is signal.SIGKILL:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)
                signalled.add(pid)
        time.sleep(sleep)
