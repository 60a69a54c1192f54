"""Real peers for the runtime: a sandbox directory, an asyncssh server on
127.0.0.1 whose sessions behave like the local provider's sandboxes, and a
local HTTP server.  Every process a test leaves in its sandbox is killed."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import http.server
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest

from provisioning_core.models import SshAccess
from provisioning_core.runtime import Host, LocalTransport, SshTransport


def sandbox_pids(under: Path) -> list[int]:
    """Processes whose PROV_SANDBOX_ROOT lies under ``under`` (what the provider kills by)."""
    marker = f"PROV_SANDBOX_ROOT={under}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and any(v.startswith(marker) for v in environ.split(b"\0")):
            found.append(int(entry.name))
    return found


def kill_sandbox(under: Path) -> list[int]:
    pids = sandbox_pids(under)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while sandbox_pids(under) and time.monotonic() < deadline:
        time.sleep(0.05)
    return pids


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


@pytest.fixture(autouse=True)
def no_leftover_processes(tmp_path: Path) -> Iterator[None]:
    """Safety net: nothing started in this test's tmp dir outlives it."""
    yield
    kill_sandbox(tmp_path)


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    root = tmp_path / "sandbox"
    root.mkdir()
    return root.resolve()


def sandbox_env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(PROV_SANDBOX_ROOT=str(root), PROV_SANDBOX_ID="sbx-1", PROV_PYTHON=sys.executable)
    return env


@pytest.fixture
def local_host(sandbox: Path) -> Iterator[Host]:
    host = Host(LocalTransport(root=sandbox), name="sandbox-local")
    yield host
    host.close()


# --- the SSH server ------------------------------------------------------------------


@attrs.frozen
class Keys:
    host_key: Path
    host_pub: str
    client_key: Path
    client_pub: Path
    other_key: Path
    other_pub: str


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    import asyncssh

    where = tmp_path_factory.mktemp("keys")
    made = {}
    for name in ("host", "client", "other"):
        key = asyncssh.generate_private_key("ssh-ed25519")
        key.write_private_key(where / name)
        key.write_public_key(where / f"{name}.pub")
        made[name] = key.export_public_key().decode().strip()
    return Keys(
        host_key=where / "host",
        host_pub=made["host"],
        client_key=where / "client",
        client_pub=where / "client.pub",
        other_key=where / "other",
        other_pub=made["other"],
    )


class SshServer:
    """An asyncssh server on its own event-loop thread.

    Every session runs ``/bin/sh -c COMMAND`` in the sandbox root with the
    sandbox's environment, as the local provider's sandboxes do.
    """

    def __init__(self, root: Path, keys: Keys, *, host_key: Path | None = None) -> None:
        self.root = root
        self.keys = keys
        self.env = sandbox_env(root)
        self.sessions = 0
        self.procs: set[asyncio.subprocess.Process] = set()
        self.connections: list = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(
            self._start(host_key or keys.host_key), self.loop
        ).result(10)
        self.port: int = self.server.sockets[0].getsockname()[1]

    async def _start(self, host_key: Path):
        import asyncssh

        return await asyncssh.create_server(
            None,
            "127.0.0.1",
            0,
            server_host_keys=[str(host_key)],
            authorized_client_keys=str(self.keys.client_pub),
            process_factory=self._session,
            encoding=None,
            acceptor=self.connections.append,
        )

    async def _session(self, process) -> None:
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
            start_new_session=True,
        )

        async def feed() -> None:
            try:
                while data := await process.stdin.read(65536):
                    proc.stdin.write(data)
                    await proc.stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                pass
            finally:
                proc.stdin.close()

        async def pump(source, sink) -> None:
            while data := await source.read(65536):
                sink.write(data)

        async def hang_up() -> None:
            # like sshd: a closed channel (a client's timeout) ends the command
            await process.channel.wait_closed()
            if proc.returncode is None:
                kill_group(proc.pid)

        self.procs.add(proc)
        feeding = asyncio.ensure_future(feed())
        watching = asyncio.ensure_future(hang_up())
        try:
            await asyncio.gather(
                pump(proc.stdout, process.stdout), pump(proc.stderr, process.stderr)
            )
            status = await proc.wait()
        finally:
            feeding.cancel()
            self.procs.discard(proc)
        watching.cancel()
        process.exit(status if status >= 0 else 128 - status)

    def drop_connections(self) -> None:
        """Close every client connection from the server's side (sshd restarted)."""

        async def drop() -> None:
            for conn in self.connections:
                conn.close()
                await conn.wait_closed()

        asyncio.run_coroutine_threadsafe(drop(), self.loop).result(10)

    def access(self, **changes) -> SshAccess:
        fields = {
            "host": "127.0.0.1",
            "port": self.port,
            "user": "tester",
            "key_path": str(self.keys.client_key),
        }
        return SshAccess(**{**fields, **changes})

    def close(self) -> None:
        async def stop() -> None:
            for proc in list(self.procs):
                kill_group(proc.pid)
            while self.procs:  # noqa: ASYNC110 - the sessions end on their own
                await asyncio.sleep(0.01)
            self.server.close()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def ssh_server(sandbox: Path, keys: Keys) -> Iterator[SshServer]:
    server = SshServer(sandbox, keys)
    yield server
    server.close()


@pytest.fixture
def ssh_host(ssh_server: SshServer) -> Iterator[Host]:
    host = Host(SshTransport(ssh_server.access()), name="sandbox-ssh")
    yield host
    host.close()


@pytest.fixture(params=["local", "ssh"])
def host(request: pytest.FixtureRequest) -> Host:
    """The same sandbox reached both ways: every step must behave the same."""
    return request.getfixturevalue(f"{request.param}_host")


# --- HTTP ------------------------------------------------------------------------------


class HttpServer:
    """http.server on 127.0.0.1 in a thread; ``routes`` maps a path to (status, headers, body)."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append((self.path, dict(self.headers.items())))
                status, headers, body = outer.routes.get(
                    self.path, (404, {}, b'{"message": "Not Found"}')
                )
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def serve(self, path: str, body: bytes, status: int = 200, **headers: str) -> str:
        self.routes[path] = (status, headers, body)
        return self.url + path

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@pytest.fixture
def http_server() -> Iterator[HttpServer]:
    server = HttpServer()
    yield server
    server.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def wait_until(predicate: Callable[[], object], timeout: float = 15.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout} s")
