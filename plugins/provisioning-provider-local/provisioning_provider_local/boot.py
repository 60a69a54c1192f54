"""Booting a sandbox: run its ``etc/rc.d`` scripts, as an init system would.

The runtime's supervisor installs ``etc/rc.d/50-prov-services`` there to
start every enabled service, so services come back after a stop and start
or a reboot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time

from provisioning_provider_local.store import RC_TIMEOUT, Sandbox, sandbox_env

__all__ = ["boot"]

log = logging.getLogger("provisioning_provider_local.daemon")


async def boot(sandbox: Sandbox) -> None:
    """Run every executable in ``etc/rc.d`` in name order, logging to ``var/log/rc.log``.

    Each script runs with the sandbox's environment in its own session; one
    that fails or hangs (killed after :data:`RC_TIMEOUT`) does not stop the
    others.
    """
    rc_dir = sandbox.root / "etc" / "rc.d"
    log_path = sandbox.root / "var" / "log" / "rc.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    scripts = (
        sorted(p for p in rc_dir.iterdir() if p.is_file() and os.access(p, os.X_OK))
        if rc_dir.is_dir()
        else []
    )
    env = sandbox_env(sandbox.id, sandbox.root, python=sys.executable)
    with log_path.open("ab", buffering=0) as out:

        def note(text: str) -> None:
            out.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {text}\n".encode())

        note(f"boot: {len(scripts)} rc.d scripts")
        for script in scripts:
            note(f"{script.name}: start")
            try:
                proc = await asyncio.create_subprocess_exec(
                    str(script),
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=out,
                    stderr=out,
                    cwd=sandbox.root,
                    env=env,
                    start_new_session=True,
                )
            except OSError as exc:
                note(f"{script.name}: cannot run: {exc}")
                continue
            try:
                status = await asyncio.wait_for(proc.wait(), RC_TIMEOUT)
            except asyncio.TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
                note(f"{script.name}: killed after {RC_TIMEOUT:g} s")
                continue
            note(f"{script.name}: exit {status}")
            log.info("rc.d %s: exit %d", script.name, status)
