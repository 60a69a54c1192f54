"""The asyncssh server of one sandbox: firewall, public-key auth, exec and shell.

Only the daemon imports this module (asyncssh is imported here, at the top).
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from functools import partial

import asyncssh

from provisioning_provider_local import firewall
from provisioning_provider_local.boot import boot
from provisioning_provider_local.store import Sandbox, read_json, sandbox_env, write_json

__all__ = ["serve"]

log = logging.getLogger("provisioning_provider_local.daemon")

_CHUNK = 65536
#: after a command exits, how long its pipes may stay silent (held open by a
#: background child) before the session ends without waiting for them
_LINGER = 0.5


def _bind(address: str, port: int | None, *, exact: bool) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((address, port or 0))
    except OSError as exc:
        if exact or not port:
            sock.close()
            raise OSError(exc.errno, f"cannot listen on {address}:{port or 0}: {exc}") from exc
        log.info("port %d on %s is taken (%s); using an ephemeral port", port, address, exc)
        sock.bind((address, 0))
    sock.listen(128)
    return sock


class Gate(asyncssh.SSHServer):
    """The firewall, then public-key auth for the current user with the authorized keys.

    Both are read again for every connection, so changes need no restart.
    """

    def __init__(self, sandbox: Sandbox, address: str, user: str) -> None:
        self._sandbox = sandbox
        self._address = address
        self._user = user
        self._keys: set[bytes] = set()

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        peer = conn.get_extra_info("peername")
        client = str(peer[0]) if peer else ""
        action, why = self._verdict(client)
        if action != "accept":
            log.info("firewall: %s connection from %s (%s)", action, client, why)
            conn.abort()  # before the SSH banner: the client sees the connection closed
            return
        self._keys = self._authorized()

    def _verdict(self, client: str) -> tuple[str, str]:
        try:
            rules = read_json(self._sandbox.firewall_path)
        except FileNotFoundError:
            rules = []
        except (OSError, ValueError) as exc:
            return "reject", f"firewall rules unreadable: {exc}"  # fail closed
        if not isinstance(rules, list):
            return "reject", "firewall rules are not a list"
        action, index = firewall.decide(rules, client=client, server=self._address)
        if index is None:
            return action, "no rule applies; with rules the firewall is an allow list"
        return action, f"rule {index + 1}: {firewall.rule_text(rules[index])}"

    def _authorized(self) -> set[bytes]:
        path = self._sandbox.authorized_keys_path
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            log.warning("cannot read %s: %s", path, exc)
            return set()
        keys = set()
        for line in lines:
            if line.strip() and not line.lstrip().startswith("#"):
                try:
                    keys.add(asyncssh.import_public_key(line).public_data)
                except (asyncssh.KeyImportError, ValueError) as exc:
                    log.warning("ignored an unreadable key in %s: %s", path, exc)
        return keys

    def begin_auth(self, username: str) -> bool:  # noqa: ARG002 - asyncssh's signature
        return True  # authentication is always required

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return username == self._user and key.public_data in self._keys


async def _pipe_reader(fd: int) -> tuple[asyncio.StreamReader, asyncio.BaseTransport]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=4 * _CHUNK)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", 0)
    )
    return reader, transport


async def _copy_out(
    reader: asyncio.StreamReader, writer: asyncssh.SSHWriter[bytes], progress: list[float]
) -> None:
    loop = asyncio.get_running_loop()
    connected = True
    while chunk := await reader.read(_CHUNK):
        progress[0] = loop.time()
        if not connected:
            continue  # keep the pipe flowing so the command never blocks on it
        try:
            writer.write(chunk)
            await writer.drain()
        except (OSError, asyncssh.Error):
            connected = False  # the client went away


async def _copy_in(
    reader: asyncssh.SSHReader[bytes], writer: asyncio.StreamWriter, pgid: int
) -> None:
    try:
        while True:
            try:
                chunk = await reader.read(_CHUNK)
            except asyncssh.SignalReceived as exc:
                _signal_group(pgid, exc.signal)
                continue
            except (asyncssh.BreakReceived, asyncssh.TerminalSizeChanged):
                continue
            if not chunk:
                break
            writer.write(chunk)
            await writer.drain()
    except (OSError, asyncssh.Error):
        pass  # the command closed its stdin, or the client went away
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def _signal_group(pgid: int, name: str) -> None:
    try:
        number = signal.Signals[f"SIG{name}"]
    except KeyError:
        log.info("ignored unknown signal %r from a client", name)
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, number)


async def _linger(copies: Sequence[asyncio.Future[None]], progress: list[float]) -> None:
    """Forward what the command left in its pipes, without waiting on silent background children.

    ``sh -c 'server &'`` exits at once while ``server`` keeps stdout open;
    sshd would hang until it closes it, here the session ends once the pipes
    have been silent for a moment.
    """
    pending = set(copies)
    while pending:
        before = progress[0]
        _, pending = await asyncio.wait(pending, timeout=_LINGER)
        if pending and progress[0] == before:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            return


async def session(sandbox: Sandbox, process: asyncssh.SSHServerProcess[bytes]) -> None:
    """Run one exec or shell request with ``/bin/sh`` in the sandbox; forward stdio and status."""
    if process.subsystem is not None:
        process.stderr.write(b"this sandbox's SSH endpoint offers no subsystems\n")
        process.exit(1)
        return
    command = process.command
    argv = ["/bin/sh", "-c", command] if command is not None else ["/bin/sh", "-i"]
    env = sandbox_env(sandbox.id, sandbox.root, python=sys.executable, extra=process.env)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=out_w,
            stderr=err_w,
            cwd=sandbox.root,
            env=env,
            start_new_session=True,  # its own process group: signals reach it and its children
        )
    except OSError as exc:
        os.close(out_r)
        os.close(err_r)
        process.stderr.write(f"cannot run {argv[0]}: {exc}\n".encode())
        process.exit(127)
        return
    finally:
        os.close(out_w)  # the child holds its own copies; EOF comes when it closes them
        os.close(err_w)
    assert proc.stdin is not None
    log.info("session %d: %s", proc.pid, "shell" if command is None else command[:200])
    progress = [0.0]
    out, out_transport = await _pipe_reader(out_r)
    err, err_transport = await _pipe_reader(err_r)
    copies = [
        asyncio.ensure_future(_copy_out(out, process.stdout, progress)),
        asyncio.ensure_future(_copy_out(err, process.stderr, progress)),
    ]
    feeding = asyncio.ensure_future(_copy_in(process.stdin, proc.stdin, proc.pid))
    exited = asyncio.ensure_future(proc.wait())
    closed = asyncio.ensure_future(process.channel.wait_closed())
    await asyncio.wait({exited, closed}, return_when=asyncio.FIRST_COMPLETED)
    if not exited.done():
        _signal_group(proc.pid, "HUP")  # the client left while the command runs, as sshd does
    status = await exited
    await _linger(copies, progress)
    for transport in (out_transport, err_transport):
        transport.close()  # a background child still writing gets EPIPE, never a full pipe
    feeding.cancel()
    closed.cancel()
    log.info("session %d: exit %d", proc.pid, status)
    with contextlib.suppress(OSError, asyncssh.Error):
        if status < 0:
            process.exit_with_signal(signal.Signals(-status).name.removeprefix("SIG"))
        else:
            process.exit(status)


async def serve(sandbox: Sandbox, port: int | None, *, exact: bool) -> None:
    """Listen, boot, and serve SSH for ``sandbox`` until SIGTERM or SIGINT.

    ``port`` is tried first (None: an ephemeral one); when it is taken an
    ephemeral port is used instead, unless ``exact``.
    """
    meta = sandbox.load()
    (sandbox.root / "root").mkdir(parents=True, exist_ok=True)
    host_key = asyncssh.read_private_key(sandbox.host_key_path)
    sock = _bind(meta.address, port, exact=exact)
    bound = int(sock.getsockname()[1])
    user = getpass.getuser()
    acceptor = await asyncssh.listen(
        sock=sock,
        server_host_keys=[host_key],
        server_factory=partial(Gate, sandbox, meta.address, user),
        process_factory=partial(session, sandbox),
        encoding=None,
        # no pty: the ssh client then keeps the local terminal cooked, so a
        # plain `/bin/sh -i` is usable
        allow_pty=False,
        agent_forwarding=False,
        x11_forwarding=False,
    )
    log.info("listening on %s:%d for user %s", meta.address, bound, user)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    ready = {"pid": os.getpid(), "port": bound, "booted": False}
    write_json(sandbox.ready_path, ready)
    await boot(sandbox)
    write_json(sandbox.ready_path, {**ready, "booted": True})
    await stop.wait()
    log.info("stopping")
    acceptor.close()
    await acceptor.wait_closed()
