"""Where sandboxes live on disk and what is recorded about each one.

``$PROV_HOME/local/`` holds the provider's client key pair (``id_ed25519``)
and ``servers/<id>/``, one directory per sandbox::

    server.json                 metadata (written atomically)
    ssh_host_ed25519_key[.pub]  the sandbox's SSH host key
    authorized_keys             keys allowed to log in
    firewall.json               rules the daemon enforces (absent: none)
    ready.json                  written by the daemon once it listens
    daemon.log                  the daemon's output
    root/                       the sandbox's file system root

This module is stdlib only: the daemon imports it too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import re
import secrets
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from provisioning_core import prov_home as core_prov_home

__all__ = [
    "PROVIDER",
    "RC_TIMEOUT",
    "Meta",
    "Sandbox",
    "all_sandboxes",
    "client_key_path",
    "daemon_env",
    "is_sandbox_id",
    "local_dir",
    "locked",
    "new_id",
    "prov_home",
    "read_json",
    "sandbox_env",
    "servers_dir",
    "write_json",
]

PROVIDER = "local"
#: seconds one rc.d script may take at boot before the daemon kills it
RC_TIMEOUT = 60.0
_ID = re.compile(r"^local-[0-9a-f]{8}$")


def prov_home() -> Path:
    """The core's :func:`provisioning_core.prov_home`, made absolute (symlinks kept)."""
    return Path(os.path.abspath(core_prov_home()))  # noqa: PTH100 - keep symlinks


def local_dir() -> Path:
    """The provider's own state directory."""
    return prov_home() / PROVIDER


def servers_dir() -> Path:
    """The directory holding one directory per sandbox."""
    return local_dir() / "servers"


def client_key_path() -> Path:
    """The private key the provider logs in to every sandbox with."""
    return local_dir() / "id_ed25519"


def new_id() -> str:
    """A fresh server id."""
    return f"{PROVIDER}-{secrets.token_hex(4)}"


@dataclasses.dataclass
class Meta:
    """What ``server.json`` records about a sandbox.

    ``state`` is what was last asked for: "starting" while a daemon is being
    launched, "running" once it answered, "stopped" after a stop.  Whether
    the daemon is really alive is found out, not recorded.
    """

    id: str
    hostname: str
    plan: str
    zone: str
    os: str
    address: str
    created_at: float
    state: str = "starting"
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    port: int | None = None
    daemon_pid: int | None = None
    launched_at: float | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Meta:
        """A Meta from ``server.json``'s content, ignoring keys it does not know."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class Sandbox:
    """The files of one sandbox."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.id = directory.name
        self.root = directory / "root"
        self.meta_path = directory / "server.json"
        self.host_key_path = directory / "ssh_host_ed25519_key"
        self.host_pub_path = directory / "ssh_host_ed25519_key.pub"
        self.authorized_keys_path = directory / "authorized_keys"
        self.firewall_path = directory / "firewall.json"
        self.ready_path = directory / "ready.json"
        self.log_path = directory / "daemon.log"
        self.lock_path = directory / ".lock"

    @classmethod
    def of(cls, server_id: str) -> Sandbox | None:
        """The sandbox ``server_id`` if the id is well formed and its metadata exists."""
        if not _ID.match(server_id):  # never let an id walk out of servers/
            return None
        sandbox = cls(servers_dir() / server_id)
        return sandbox if sandbox.meta_path.is_file() else None

    def load(self) -> Meta:
        """The recorded metadata."""
        data = read_json(self.meta_path)
        if not isinstance(data, dict):
            raise TypeError(f"{self.meta_path} does not hold a JSON object")
        return Meta.from_dict(data)

    def save(self, meta: Meta) -> None:
        """Record ``meta`` atomically."""
        write_json(self.meta_path, dataclasses.asdict(meta))

    def env(self) -> dict[str, str]:
        """The variables that mark a process as belonging to this sandbox."""
        return {"PROV_SANDBOX_ID": self.id, "PROV_SANDBOX_ROOT": str(self.root)}


def is_sandbox_id(name: str) -> bool:
    """Whether ``name`` is shaped like a sandbox's id (``local-`` and 8 hex digits)."""
    return bool(_ID.match(name))


def all_sandboxes() -> list[tuple[Sandbox, Meta]]:
    """Every sandbox with readable metadata, in id order."""
    base = servers_dir()
    if not base.is_dir():
        return []
    found = []
    for entry in sorted(base.iterdir()):
        sandbox = Sandbox.of(entry.name)
        if sandbox is None:
            continue
        try:
            found.append((sandbox, sandbox.load()))
        except (OSError, ValueError, TypeError):
            continue  # deleted meanwhile, or not ours
    return found


#: what the SSH daemon keeps of the environment it is started from: what Python needs
#: to find this plugin, and the locale; nothing else (a controller's ${ENV} secrets are
#: not the daemon's business, and /proc/<pid>/environ would show them to its user)
_DAEMON_KEEPS = (
    "PATH", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "LANG", "LC_ALL", "LC_CTYPE", "TZ",
    "TMPDIR", "HOME", "USER", "LOGNAME", "PROV_HOME",
)  # fmt: skip


def daemon_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment the sandbox's daemon (and its launcher) run with: a short allow-list."""
    env = {k: v for k, v in os.environ.items() if k in _DAEMON_KEEPS}
    env.update(extra or {})
    return env


def sandbox_env(
    sandbox_id: str, root: Path, *, python: str, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment commands run with inside a sandbox.

    A fresh environment, as sshd gives: nothing of the controller's leaks in
    (PROV_HOME above all, so a command in a sandbox never acts on the
    controller's state by accident).
    """
    env = {k: v for k, v in (extra or {}).items() if not k.startswith("PROV_SANDBOX")}
    for name in ("LANG", "LC_ALL", "LC_CTYPE", "TZ"):
        if name in os.environ and name not in env:
            env[name] = os.environ[name]
    user = _user()
    inherited = os.environ.get("PATH", os.defpath)
    env.update(
        {
            "PROV_SANDBOX_ROOT": str(root),
            "PROV_SANDBOX_ID": sandbox_id,
            "PROV_PYTHON": python,
            "HOME": str(root / "root"),
            "USER": user,
            "LOGNAME": user,
            "SHELL": "/bin/sh",
            "PATH": ":".join(
                [str(root / "usr/local/bin"), str(root / "usr/bin"), str(root / "bin"), inherited]
            ),
        }
    )
    return env


def _user() -> str:
    import getpass

    return getpass.getuser()


def read_json(path: Path) -> Any:
    """The JSON content of ``path``."""
    return json.loads(path.read_text(encoding="utf-8"))


def write_json(path: Path, data: Any, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` atomically: readers see the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)  # noqa: PTH101 - a str path from mkstemp
        os.replace(tmp, path)  # noqa: PTH105
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)  # noqa: PTH108
        raise


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if needed).

    flock locks belong to an open file, so this serialises threads of one
    process as well as separate processes.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock
