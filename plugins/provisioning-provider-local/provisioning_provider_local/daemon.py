"""The daemon of one sandbox: ``python -m provisioning_provider_local.daemon DIR``.

It runs detached from the command that started it (its own session, stdio
to ``DIR/daemon.log``), so servers outlive the CLI.  At start it binds the
sandbox's address, writes ``DIR/ready.json`` (pid, port), runs the
sandbox's ``etc/rc.d`` scripts ("boot"), marks ``ready.json`` booted, then
serves SSH until SIGTERM.

With ``--detach`` this is the launcher: it spawns the daemon in a new
session, prints its pid and exits at once, so the daemon is never a child
(nor, once dead, a zombie) of a long-lived caller such as a test run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from provisioning_provider_local.store import Sandbox, daemon_env

__all__ = ["MODULE", "detach", "main"]

log = logging.getLogger("provisioning_provider_local.daemon")

MODULE = "provisioning_provider_local.daemon"


def detach(directory: Path, args: Sequence[str]) -> int:
    """Spawn the daemon for ``directory`` in a new session; return its pid."""
    sandbox = Sandbox(directory)
    logfd = os.open(sandbox.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        return os.posix_spawn(
            sys.executable,
            [sys.executable, "-m", MODULE, str(directory), *args],
            # sandbox.env() marks the daemon as one of the sandbox's processes
            daemon_env(sandbox.env()),
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, logfd, 1),
                (os.POSIX_SPAWN_DUP2, logfd, 2),
            ],
            setsid=True,
        )
    finally:
        os.close(logfd)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m provisioning_provider_local.daemon``."""
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}")
    parser.add_argument("directory", type=Path, help="the sandbox's directory")
    parser.add_argument("--port", type=int, help="port to listen on (default: an ephemeral one)")
    parser.add_argument("--exact", action="store_true", help="fail if --port cannot be bound")
    parser.add_argument("--detach", action="store_true", help="spawn the daemon, print its pid")
    args = parser.parse_args(argv)
    if args.detach:
        forwarded = [*(["--port", str(args.port)] if args.port else []), *["--exact"] * args.exact]
        sys.stdout.write(f"{detach(args.directory, forwarded)}\n")
        return 0
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    logging.getLogger("asyncssh").setLevel(logging.WARNING)
    # a library's warning is one line of the log, like everything else the daemon says
    logging.captureWarnings(capture=True)
    from provisioning_provider_local.sshd import serve  # asyncssh: only in the daemon itself

    sandbox = Sandbox(args.directory)
    log.info("daemon %d of sandbox %s starting", os.getpid(), sandbox.id)
    try:
        asyncio.run(serve(sandbox, args.port, exact=args.exact))
    except (OSError, ValueError) as exc:
        log.error("cannot serve sandbox %s: %s", sandbox.id, exc)  # noqa: TRY400 - the reason is the message
        return 1
    finally:
        with contextlib.suppress(OSError):
            sandbox.ready_path.unlink()
    log.info("daemon %d stopped", os.getpid())
    return 0


if __name__ == "__main__":
    sys.exit(main())
