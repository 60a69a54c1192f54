"""How commands reach a server: a local shell or one persistent SSH connection.

A transport runs ``/bin/sh -c COMMAND`` somewhere and returns what it said.
Everything above (Host, steps, service managers) is built on ``run`` alone,
so a step tested through :class:`LocalTransport` behaves the same over SSH.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

from provisioning_core.errors import ProvisioningError
from provisioning_core.models import SshAccess
from provisioning_core.runtime import known_hosts

if TYPE_CHECKING:
    from asyncssh import SSHClientConnection, SSHKey

__all__ = [
    "CommandError",
    "CommandResult",
    "LocalTransport",
    "SshTransport",
    "Transport",
]

_COMMAND_SHOWN = 200  # characters of a command quoted in messages
_STDERR_LINES = 5  # last lines of stderr quoted in a CommandError


def shorten(command: str) -> str:
    """``command`` cut to a length that fits an error message."""
    command = " ".join(command.split())
    if len(command) <= _COMMAND_SHOWN:
        return command
    return command[: _COMMAND_SHOWN - 3] + "..."


@attrs.frozen
class CommandResult:
    """What one command did: its exit status and everything it printed."""

    command: str
    exit_status: int
    stdout: bytes
    stderr: bytes

    @property
    def ok(self) -> bool:
        """True when the command exited 0."""
        return self.exit_status == 0

    def text(self) -> str:
        """stdout decoded as UTF-8 (undecodable bytes replaced)."""
        return self.stdout.decode("utf-8", errors="replace")

    def check(self, host: str) -> CommandResult:
        """``self`` if the command succeeded; a :class:`CommandError` naming ``host`` if not."""
        if not self.ok:
            raise CommandError(host, self.command, self.exit_status, self.stderr)
        return self


class CommandError(ProvisioningError):
    """A command on a server exited non-zero.

    ``host``, ``command``, ``exit_status`` and ``stderr`` (the last lines) say
    which, where and why.
    """

    def __init__(self, host: str, command: str, exit_status: int, stderr: bytes | str) -> None:
        text = stderr.decode("utf-8", errors="replace") if isinstance(stderr, bytes) else stderr
        self.host = host
        self.command = command
        self.exit_status = exit_status
        self.stderr = "\n".join(text.strip().splitlines()[-_STDERR_LINES:])
        message = f"command failed on {host} (exit status {exit_status}): {shorten(command)}"
        if self.stderr:
            message += "\n" + "\n".join(f"  | {line}" for line in self.stderr.splitlines())
        super().__init__(
            message,
            hint="the lines above are the end of the command's stderr; "
            "fix the cause on the server or in the step, then run again",
        )


@runtime_checkable
class Transport(Protocol):
    """Runs shell commands on one machine."""

    name: str  # for messages: "ssh root@10.0.0.5:22", "local"

    def run(
        self,
        command: str,
        *,
        input: bytes | None = None,  # noqa: A002 - the name the contract gives stdin
        timeout: float | None = None,
    ) -> CommandResult:
        """Run ``/bin/sh -c command`` with ``input`` on stdin; exit status != 0 is no error."""
        ...

    def close(self) -> None:
        """Release the connection; later ``run`` calls may reconnect."""
        ...


def timed_out(where: str, command: str, timeout: float | None) -> ProvisioningError:
    """The error for a command that did not finish within ``timeout`` seconds."""
    return ProvisioningError(
        f"command on {where} did not finish within {timeout} s: {shorten(command)}",
        hint="the command was stopped; check what it waits for on the server, "
        "or give it a longer timeout",
    )


class LocalTransport:
    """Runs commands on this machine.

    With ``root`` it behaves like a local sandbox: the working directory is
    ``root`` and the environment carries ``PROV_SANDBOX_ROOT`` (and, unless
    ``env`` gives them, ``PROV_SANDBOX_ID`` and ``PROV_PYTHON``), so Host maps
    every logical path under ``root`` and manages services with the supervisor.
    """

    address = "127.0.0.1"  # where health checks of this machine connect

    def __init__(
        self, *, root: str | Path | None = None, env: Mapping[str, str] | None = None
    ) -> None:
        self.root = str(Path(root).resolve()) if root is not None else None
        self.env = dict(os.environ)
        if self.root is not None:
            self.env["PROV_SANDBOX_ROOT"] = self.root
            self.env["PROV_SANDBOX_ID"] = Path(self.root).name
            self.env["PROV_PYTHON"] = sys.executable
        self.env.update(env or {})
        self.name = f"local sandbox {self.root}" if self.root else "local"

    def run(
        self,
        command: str,
        *,
        input: bytes | None = None,  # noqa: A002 - the contract's name
        timeout: float | None = None,
    ) -> CommandResult:
        # a new session so that a timeout can stop the command and all it started
        process = subprocess.Popen(  # noqa: S603 - running shell commands is this class's job
            ["/bin/sh", "-c", command],
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=self.root,
            env=self.env,
            start_new_session=True,
        )
        try:
            stdout, stderr = process.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process.pid)
            process.communicate()
            raise timed_out(self.name, command, timeout) from None
        except BaseException:  # Ctrl-C: leave nothing running behind
            _kill_group(process.pid)
            process.communicate()
            raise
        status = process.returncode
        # a shell reports death by signal N as 128+N; keep the same convention
        return CommandResult(command, 128 - status if status < 0 else status, stdout, stderr)

    def close(self) -> None:
        """Nothing to release: every command is its own process."""


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


class SshTransport:
    """Runs commands over ONE persistent SSH connection (asyncssh).

    The connection is opened at the first :meth:`run` and driven on a private
    event-loop thread, so ``run`` is an ordinary blocking call that any number
    of threads may make at once (each gets its own SSH channel).  ``close``
    closes the connection and stops the thread; a later ``run`` reconnects.
    """

    def __init__(self, access: SshAccess, *, connect_timeout: float = 15.0) -> None:
        self.access = access
        self.address = access.host
        self.connect_timeout = connect_timeout
        self.where = f"{access.user}@{access.host}:{access.port}"
        self._key_path = str(Path(access.key_path).expanduser()) if access.key_path else None
        self.name = f"ssh {self.where}"
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._conn: SSHClientConnection | None = None

    def run(
        self,
        command: str,
        *,
        input: bytes | None = None,  # noqa: A002 - the contract's name
        timeout: float | None = None,
    ) -> CommandResult:
        import asyncssh

        for attempt in range(2):
            conn, loop = self._connection()
            future = asyncio.run_coroutine_threadsafe(
                self._run(conn, command, input, timeout), loop
            )
            try:
                return future.result()
            except asyncssh.ChannelOpenError as exc:
                # the channel never opened, so the command did not run: safe to
                # reconnect once (the server may have closed an idle connection)
                self._drop(conn)
                if attempt:
                    raise self._failure(f"could not open a session: {exc.reason}") from None
            except (asyncssh.DisconnectError, ConnectionError) as exc:
                self._drop(conn)
                raise self._failure(
                    f"the connection was lost while running {shorten(command)!r}: {exc}",
                    hint="the server may have rebooted or stopped; "
                    "check it with `prov server list`, then run again",
                ) from None
            except BaseException:
                future.cancel()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _run(
        self,
        conn: SSHClientConnection,
        command: str,
        input: bytes | None,  # noqa: A002
        timeout: float | None,
    ) -> CommandResult:
        import asyncssh

        # stdin is closed at once unless there is input, so no command waits on it
        process = await conn.create_process(
            command, input=input or None, stdin=asyncssh.DEVNULL, encoding=None
        )
        try:
            done = await process.wait(timeout=timeout)
        except asyncssh.TimeoutError:
            raise timed_out(self.name, command, timeout) from None
        finally:
            process.close()
        status = done.returncode
        if status is None:
            # neither an exit status nor a signal: the session ended under the command (the
            # daemon died, the server went down); what the command did is unknown
            raise ConnectionError("the session ended without the command's exit status")
        if status < 0:
            status = 128 - status  # killed by a signal, as a shell reports it
        return CommandResult(command, status, _bytes(done.stdout), _bytes(done.stderr))

    def close(self) -> None:
        with self._lock:
            conn, loop, thread = self._conn, self._loop, self._thread
            self._conn = self._loop = self._thread = None
        if loop is None or thread is None:
            return
        if conn is not None:
            asyncio.run_coroutine_threadsafe(_close(conn), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()

    def __del__(self) -> None:
        # a forgotten transport must not keep a thread and a socket alive
        if getattr(self, "_thread", None) is not None:
            with contextlib.suppress(Exception):
                self.close()

    def _connection(self) -> tuple[SSHClientConnection, asyncio.AbstractEventLoop]:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name=f"prov {self.name}", daemon=True
                )
                self._thread.start()
            if self._conn is None or self._conn.is_closed():
                future = asyncio.run_coroutine_threadsafe(self._connect(), self._loop)
                try:
                    self._conn = future.result()
                except BaseException:
                    future.cancel()
                    raise
            return self._conn, self._loop

    def _drop(self, conn: SSHClientConnection) -> None:
        with self._lock:
            if self._conn is conn:
                self._conn = None
        conn.abort()

    async def _connect(self) -> SSHClientConnection:
        import asyncssh

        access = self.access
        options: dict[str, Any] = {
            "username": access.user,
            "connect_timeout": self.connect_timeout,
            "known_hosts": self._trusted_keys(),
        }
        if access.key_path:
            # the given key and nothing else: no agent, no ~/.ssh defaults
            options["client_keys"] = [self._key_path]
            options["agent_path"] = None
        try:
            conn = await asyncssh.connect(access.host, access.port, **options)
        except asyncssh.HostKeyNotVerifiable as exc:
            raise self._host_key_refused(exc) from None
        except asyncssh.PermissionDenied:
            raise self._failure(
                "authentication failed",
                hint=f"check that the key {access.key_path or '(default keys)'} is authorised "
                f"for user {access.user!r} on the server",
            ) from None
        except (OSError, asyncio.TimeoutError, asyncssh.Error) as exc:
            reason = (
                f"no answer within {self.connect_timeout} s"
                if isinstance(exc, asyncio.TimeoutError)
                else str(exc) or type(exc).__name__
            )
            raise self._failure(
                f"cannot connect: {reason}",
                hint="is the server running? `prov server start NAME` starts it; check "
                "its address and that its SSH server listens on the port",
            ) from None
        if access.host_key is None and not known_hosts.known_keys(access.host, access.port):
            key = conn.get_server_host_key()
            if key is not None:
                known_hosts.remember(
                    access.host, access.port, key.export_public_key("openssh").decode()
                )
        return conn

    def _trusted_keys(self) -> tuple[list[SSHKey], list[SSHKey], list[SSHKey]] | None:
        import asyncssh

        access = self.access
        if access.host_key is not None:
            lines = [access.host_key]
        else:
            lines = known_hosts.known_keys(access.host, access.port)
            if not lines:
                return None  # first use: accept the key, then record it
        try:
            keys = [asyncssh.import_public_key(line) for line in lines]
        except (asyncssh.KeyImportError, ValueError) as exc:
            where = "SshAccess.host_key" if access.host_key else str(known_hosts.known_hosts_path())
            raise self._failure(
                f"the host key given in {where} cannot be read: {exc}",
                hint="a host key is one OpenSSH public key line, e.g. 'ssh-ed25519 AAAA...'",
            ) from None
        return (keys, [], [])

    def _host_key_refused(self, exc: Exception) -> ProvisioningError:
        access = self.access
        if access.host_key is not None:
            return self._failure(
                f"the server's host key does not match the one its provider gave ({exc})",
                hint="someone may be intercepting the connection, or the provider reported "
                "a stale key; do not proceed until you know which",
            )
        path = known_hosts.known_hosts_path()
        return self._failure(
            f"the server's host key has CHANGED since the first connection ({exc})",
            hint=f"if the server was recreated, remove the line starting with "
            f"{known_hosts.pattern(access.host, access.port)} from {path}; otherwise "
            "someone may be intercepting the connection",
        )

    def _failure(self, what: str, *, hint: str | None = None) -> ProvisioningError:
        return ProvisioningError(f"SSH to {self.where}: {what}", hint=hint)


async def _close(conn: SSHClientConnection) -> None:
    conn.close()
    await conn.wait_closed()


def _bytes(data: object) -> bytes:
    if data is None:
        return b""
    if isinstance(data, str):
        return data.encode()
    assert isinstance(data, bytes)
    return data
