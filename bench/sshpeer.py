"""An SSH peer for the runtime benchmarks: asyncssh on 127.0.0.1, in this process.

The same approach as ``tests/runtime/conftest.py`` (whose ``SshServer`` is
not importable here: that module needs pytest).  Every session runs
``/bin/sh -c COMMAND`` in the sandbox root with the sandbox's environment,
as the local provider's sandboxes do, so a Host over SSH and a Host over
LocalTransport see the same machine.  The server runs on its own event-loop
thread; :meth:`SshPeer.close` kills whatever a session left running.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from provisioning_core.models import SshAccess

if TYPE_CHECKING:
    from asyncssh import SSHServerProcess


def sandbox_env(root: Path) -> dict[str, str]:
    """The environment of a local sandbox rooted at ``root`` (what Host probes for)."""
    return os.environ | {
        "PROV_SANDBOX_ROOT": str(root),
        "PROV_SANDBOX_ID": root.name,
        "PROV_PYTHON": sys.executable,
    }


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


class SshPeer:
    """An asyncssh server on 127.0.0.1 with a fresh host key and one authorised client key."""

    def __init__(self, root: Path, keys: Path) -> None:
        import asyncssh

        self.root = root
        self.env = sandbox_env(root)
        self.sessions = 0  # commands run so far: one channel each
        self._procs: set[asyncio.subprocess.Process] = set()
        keys.mkdir(parents=True, exist_ok=True)
        self.client_key = keys / "client"
        host = asyncssh.generate_private_key("ssh-ed25519")
        client = asyncssh.generate_private_key("ssh-ed25519")
        host.write_private_key(keys / "host")
        client.write_private_key(self.client_key)
        client.write_public_key(keys / "client.pub")
        self.host_pub = host.export_public_key().decode().strip()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="bench ssh peer", daemon=True
        )
        self._thread.start()

        async def listen() -> asyncssh.SSHAcceptor:
            # create_server returns an awaitable, not the coroutine the loop thread wants
            return await asyncssh.create_server(
                None,
                "127.0.0.1",
                0,
                server_host_keys=[str(keys / "host")],
                authorized_client_keys=str(keys / "client.pub"),
                process_factory=self._session,
                encoding=None,
            )

        try:
            self._server = asyncio.run_coroutine_threadsafe(listen(), self._loop).result(10)
        except BaseException:
            self._stop_loop()
            raise
        self.port: int = self._server.sockets[0].getsockname()[1]

    def access(self) -> SshAccess:
        """How a provider would describe this peer: address, user, key and host key."""
        return SshAccess(
            host="127.0.0.1",
            port=self.port,
            user="bench",
            key_path=str(self.client_key),
            host_key=self.host_pub,
        )

    async def _session(self, process: SSHServerProcess[Any]) -> None:
        self.sessions += 1
        proc = await asyncio.create_subprocess_exec(
            "/bin/sh",
            "-c",
            process.command or "",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=self.root,
            env=self.env,
            start_new_session=True,  # so close() can kill all a command started
        )
        self._procs.add(proc)
        assert proc.stdin is not None
        assert proc.stdout is not None
        assert proc.stderr is not None
        stdin = proc.stdin

        async def feed() -> None:
            try:
                while data := await process.stdin.read(65536):
                    stdin.write(data)
                    await stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                pass
            finally:
                stdin.close()

        async def pump(source: asyncio.StreamReader, sink: Any) -> None:
            while data := await source.read(65536):
                sink.write(data)

        feeding = asyncio.ensure_future(feed())
        try:
            await asyncio.gather(
                pump(proc.stdout, process.stdout), pump(proc.stderr, process.stderr)
            )
            status = await proc.wait()
        finally:
            feeding.cancel()
            self._procs.discard(proc)
        process.exit(status if status >= 0 else 128 - status)

    def close(self) -> None:
        """Stop the server and kill what any session still runs."""

        async def stop() -> None:
            for proc in list(self._procs):
                _kill_group(proc.pid)
            while self._procs:  # noqa: ASYNC110 - the sessions end on their own once killed
                await asyncio.sleep(0.01)
            self._server.close()
            await self._server.wait_closed()

        try:
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
