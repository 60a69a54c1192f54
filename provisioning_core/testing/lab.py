"""A lab for a taskserv plugin's end-to-end tests: local sandboxes, a release mirror.

:class:`Lab` creates local servers (real SSH on 127.0.0.N) through the core's
operations with provider ``local`` and runs taskserv operations the way
``prov`` runs them, with the settings of each taskserv pointed at an
:class:`~provisioning_core.testing.ArtifactMirror`.  :func:`sandbox_tree` and
:func:`sandbox_processes` snapshot a sandbox's files and processes (check mode
must change neither); :func:`reap_sandboxes` kills whatever a test left
running.  The local provider plugin (``provisioning-provider-local``) must be
installed for :meth:`Lab.create` to work; nothing here imports it.

Nothing here imports pytest at import time.  :func:`lab_fixtures` builds the
usual fixtures; a plugin's ``tests/conftest.py`` needs one line::

    prov_home, mirror, lab = lab_fixtures()
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from provisioning_core.models import Server, SshAccess
from provisioning_core.operations import Engine, TargetResult
from provisioning_core.operations.servers import create_servers
from provisioning_core.operations.taskservs import run_taskserv
from provisioning_core.runtime.host import connect
from provisioning_core.testing.mirror import ArtifactMirror

if TYPE_CHECKING:
    import pytest

__all__ = [
    "Lab",
    "Sandbox",
    "free_port",
    "free_ports",
    "isolate",
    "lab_fixtures",
    "reap_sandboxes",
    "sandbox_picture",
    "sandbox_processes",
    "sandbox_tree",
    "toml_tables",
    "toml_value",
]

_MARK = b"PROV_SANDBOX_ROOT="
_KILL_WAIT = 5.0  # seconds SIGKILL may take before reaping gives up


@attrs.frozen
class Sandbox:
    """A local server the lab created: its name, records and root directory."""

    hostname: str
    server: Server
    ssh: SshAccess
    root: Path


class Lab:
    """Creates sandboxes and runs taskserv operations the way ``prov`` does.

    ``home`` is the test's ``PROV_HOME``, ``work`` the workspace (where
    ``provisioning.toml`` is written: the current directory of the test),
    ``mirror`` the GitHub stand-in every taskserv is pointed at by :meth:`use`.
    """

    def __init__(self, home: Path, work: Path, mirror: ArtifactMirror) -> None:
        self.home = home
        self.work = work
        self.mirror = mirror
        #: [taskservs.<name>] tables written to the workspace's provisioning.toml
        self.settings: dict[str, dict[str, Any]] = {}

    def use(self, name: str, **settings: Any) -> None:
        """Point taskserv ``name`` at the mirror, with quick health checks and ``settings``."""
        self.settings[name] = {
            "api_url": self.mirror.api_url,
            "download_url": self.mirror.download_url,
            "health_interval": 0.2,
            "health_retries": 50,
            **settings,
        }

    def engine(
        self, *, check: bool = False, sleep: Callable[[float], None] | None = None
    ) -> Engine:
        """An engine over the workspace, with the settings given so far written out."""
        tables = {f'taskservs."{name}"': table for name, table in self.settings.items()}
        (self.work / "provisioning.toml").write_text(toml_tables(tables))
        return Engine(check=check, sleep=sleep)

    def create(self, hostname: str) -> Sandbox:
        """A running local server named ``hostname`` (provider ``local``)."""
        with self.engine() as engine:
            report = create_servers(
                engine, hostname, provider="local", plan="small", zone="local", wait=True
            )
            if not report.ok:
                raise AssertionError(f"could not create sandbox {hostname}: {report}")
            server_id = report.results[0].data["id"]
            provider = engine.provider("local")
            server = provider.call("get_server_info", server_id=server_id)
            ssh = provider.call("get_ssh_access", server_id=server_id)
        with connect(server, ssh) as host:
            root = Path(host.root)
        return Sandbox(hostname, server, ssh, root)

    def run(
        self, action: str, name: str, box: Sandbox, *, check: bool = False, **kwargs: Any
    ) -> TargetResult:
        """Run taskserv operation ``action`` of ``name`` on ``box``; its one result."""
        with self.engine(check=check) as engine:
            report = run_taskserv(engine, action, name, [box.hostname], **kwargs)
        (result,) = report.results
        return result


def toml_tables(tables: dict[str, dict[str, Any]]) -> str:
    """``tables`` (table name, dotted and quoted as TOML wants it -> keys) as TOML text.

    For the ``provisioning.toml`` of a test: strings, numbers, booleans, lists
    and inline tables (a ``datetime`` or None has no place there).
    """
    text = ""
    for name, table in tables.items():
        text += f"[{name}]\n"
        text += "".join(
            f"{json.dumps(key)} = {toml_value(value)}\n" for key, value in table.items()
        )
    return text


def toml_value(value: Any) -> str:
    """``value`` as a TOML value (JSON's string escapes are TOML's)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        inner = ", ".join(f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)


def free_port(address: str = "127.0.0.1") -> int:
    """A TCP port free on ``address`` now (a sandbox's 127.0.0.N): never a fixed one.

    Another test run on this machine may have a sandbox on the same address
    with a service on its default port.
    """
    return free_ports(1, address)[0]


def free_ports(count: int, address: str = "127.0.0.1") -> list[int]:
    """``count`` distinct TCP ports free on ``address`` (all held at once while chosen)."""
    import socket

    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind((address, 0))
        return [int(s.getsockname()[1]) for s in sockets]


# --- snapshots ------------------------------------------------------------------------------


def sandbox_tree(root: Path) -> dict[str, str]:
    """Every path under ``root``: kind, mode and content digest (a link: its target)."""
    found = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        rel = str(path.relative_to(root))
        if stat.S_ISLNK(st.st_mode):
            found[rel] = f"link {path.readlink()}"
        elif stat.S_ISREG(st.st_mode):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
            found[rel] = f"file {st.st_mode:o} {digest} {st.st_mtime_ns}"
        else:
            found[rel] = f"{stat.filemode(st.st_mode)}"
    return found


def sandbox_processes(root: Path) -> set[tuple[int, str]]:
    """The processes running inside the sandbox at ``root`` (pid, command line).

    Sessions the SSH daemon starts for each command end with the command, so
    they are waited out briefly: what stays is the sandbox's own processes.
    """
    wanted = _MARK + os.fsencode(str(root))
    for _ in range(50):
        found: set[tuple[int, str]] = set()
        transient = False
        for pid, environ in _sandboxed():
            if wanted not in environ:
                continue
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            found.add((pid, cmdline.strip()))
            transient = transient or cmdline.startswith(("/bin/sh -c", "sh -c"))
        if not transient:
            return found
        time.sleep(0.1)
    return found


def sandbox_picture(sandboxes: Sandbox | list[Sandbox], home: Path) -> Callable[[], Any]:
    """A function picturing ``sandboxes`` (files, processes) and the download cache in ``home``.

    Two pictures are equal when check mode changed nothing: no file, no
    process, nothing downloaded into the controller's cache.  For a
    conformance class's ``backend_snapshot``.
    """
    boxes = [sandboxes] if isinstance(sandboxes, Sandbox) else list(sandboxes)
    downloads = home / "cache" / "downloads"

    def picture() -> dict[str, Any]:
        return {
            "files": {box.hostname: sandbox_tree(box.root) for box in boxes},
            "processes": {box.hostname: sorted(sandbox_processes(box.root)) for box in boxes},
            "downloads": sorted(p.name for p in downloads.iterdir()) if downloads.is_dir() else [],
        }

    return picture


# --- cleaning up ----------------------------------------------------------------------------


def reap_sandboxes(directory: str | os.PathLike[str], *, grace: float = 3.0) -> list[int]:
    """Kill every process whose ``PROV_SANDBOX_ROOT`` lies under ``directory``; their pids.

    That is every sandbox daemon, script, command and service of the local
    servers kept there (the test's ``PROV_HOME``): SIGTERM, then SIGKILL for
    what is still alive after ``grace`` seconds (zombies hold no environment,
    so they no longer match).  Raises OSError if something survives SIGKILL.
    """
    bases = {
        os.fsencode(os.path.abspath(directory)),  # noqa: PTH100 - as recorded, symlinks kept
        os.fsencode(Path(directory).resolve()),
    }

    def under(environ: list[bytes]) -> bool:
        for entry in environ:
            if entry.startswith(_MARK):
                root = entry[len(_MARK) :]
                spellings = (root, os.path.realpath(root))  # recorded through a symlink, maybe
                return any(r.startswith(base + b"/") for r in spellings for base in bases)
        return False

    signalled: set[int] = set()
    deadline = time.monotonic() + grace
    # scanned again until nothing matches: a supervisor may restart its service meanwhile
    while pids := [pid for pid, environ in _sandboxed() if under(environ)]:
        now = time.monotonic()
        if now > deadline + _KILL_WAIT:
            raise OSError(f"sandbox processes {pids} under {directory} survived SIGKILL")
        signum = signal.SIGTERM if now < deadline else signal.SIGKILL
        for pid in pids:
            if pid not in signalled or signum is signal.SIGKILL:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signum)
                signalled.add(pid)
        time.sleep(0.05)
    return sorted(signalled)


def _sandboxed() -> Iterator[tuple[int, list[bytes]]]:
    """(pid, environment) of every other process that lives in some sandbox."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if any(e.startswith(_MARK) for e in environ):
            yield int(entry.name), environ


# --- test isolation -------------------------------------------------------------------------


class _Patcher(Protocol):
    """What :func:`isolate` needs of pytest's ``monkeypatch``."""

    def setenv(self, name: str, value: str, prepend: str | None = None) -> None: ...
    def delenv(self, name: str, raising: bool = True) -> None: ...
    def chdir(self, path: str | os.PathLike[str]) -> None: ...


def isolate(tmp_path: Path, monkeypatch: _Patcher) -> Path:
    """Give a test its own ``PROV_HOME`` and workspace under ``tmp_path``; the home.

    The workspace (``tmp_path/work``) becomes the current directory; every
    other ``PROV_*`` variable is removed and ``XDG_CONFIG_HOME`` moved, so no
    user configuration leaks in.  Call :func:`reap_sandboxes` with the home
    when the test ends.
    """
    home = tmp_path / "prov-home"
    home.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("PROV_HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.chdir(work)
    for name in [n for n in os.environ if n.startswith("PROV_") and n != "PROV_HOME"]:
        monkeypatch.delenv(name)
    return home


def lab_fixtures() -> tuple[Any, Any, Any]:
    """pytest fixtures ``prov_home`` (autouse), ``mirror`` and ``lab``, for a conftest.py.

    ``prov_home`` isolates every test (:func:`isolate`) and reaps its
    sandboxes afterwards, whatever the test did; ``mirror`` is a running
    :class:`ArtifactMirror`; ``lab`` a :class:`Lab` over both.  Assign them to
    those names in the conftest, where pytest finds fixtures::

        prov_home, mirror, lab = lab_fixtures()
    """
    import pytest  # only here: importing this module must not need pytest

    @pytest.fixture(autouse=True, name="prov_home")
    def prov_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
        home = isolate(tmp_path, monkeypatch)
        yield home
        reap_sandboxes(home)

    @pytest.fixture(name="mirror")
    def mirror() -> Iterator[ArtifactMirror]:
        with ArtifactMirror() as served:
            yield served

    @pytest.fixture(name="lab")
    def lab(prov_home: Path, mirror: ArtifactMirror) -> Lab:
        return Lab(prov_home, Path.cwd(), mirror)

    return prov_home, mirror, lab
