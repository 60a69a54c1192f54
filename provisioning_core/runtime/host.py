"""A server to act on: its facts, its files (by logical path) and its services.

Every path a taskserv names is LOGICAL: ``/etc/my-service/config.yaml`` is
where the file lives on a real server.  On a local sandbox the same file lives
under the sandbox root; :meth:`Host.path` maps one to the other, so a taskserv
is written once for both.  Files travel through the command channel (``cat >``
a temporary file, then ``mv``), so nothing but a POSIX shell is needed.
"""

from __future__ import annotations

import posixpath
import shlex
from types import TracebackType
from typing import TYPE_CHECKING

import attrs

from provisioning_core.errors import ProvisioningError
from provisioning_core.models import Server, SshAccess
from provisioning_core.runtime.transport import CommandResult, SshTransport, Transport

if TYPE_CHECKING:
    from provisioning_core.runtime.services import ServiceManager

__all__ = ["Host", "connect"]

_ABSENT = 100  # exit status our probes use for "no such file"
_GOARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "armv6l": "arm",
    "i386": "386",
    "i686": "386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}


@attrs.frozen
class _Facts:
    root: str
    sandbox: bool
    arch: str
    machine: str


class Host:
    """One server, reached through a :class:`Transport`.

    ``root``, ``sandbox`` and ``arch`` are probed with one command at first
    use.  ``services`` is the service manager that fits: systemd on real
    hosts, the supervisor in sandboxes (assign another one, e.g. in tests).
    """

    def __init__(self, transport: Transport, *, name: str, address: str | None = None) -> None:
        self.transport = transport
        self.name = name
        self.address = address if address is not None else getattr(transport, "address", None)
        self._facts: _Facts | None = None
        self._services: ServiceManager | None = None

    def __repr__(self) -> str:
        return f"Host({self.name!r} via {self.transport.name})"

    # --- facts ---------------------------------------------------------------------------

    @property
    def facts(self) -> _Facts:
        if self._facts is None:
            result = self.run('printf "%s\\n" "${PROV_SANDBOX_ROOT:-}" "$(uname -m)"')
            sandbox_root, machine = [*result.text().split("\n"), "", ""][:2]
            root = posixpath.normpath(sandbox_root) if sandbox_root else "/"
            self._facts = _Facts(
                root=root,
                sandbox=bool(sandbox_root),
                arch=_GOARCH.get(machine, machine),
                machine=machine,
            )
        return self._facts

    @property
    def root(self) -> str:
        """Where logical ``/`` is: "/" on real hosts, the sandbox root in sandboxes."""
        return self.facts.root

    @property
    def sandbox(self) -> bool:
        """True when the target is a local sandbox (it sets PROV_SANDBOX_ROOT)."""
        return self.facts.sandbox

    @property
    def arch(self) -> str:
        """The machine as Go names it (amd64, arm64...), as release artifacts are named."""
        return self.facts.arch

    @property
    def services(self) -> ServiceManager:
        """The service manager of this host (systemd, or the supervisor in sandboxes)."""
        if self._services is None:
            from provisioning_core.runtime.services import Supervisor, Systemd

            self._services = Supervisor(self) if self.sandbox else Systemd(self)
        return self._services

    @services.setter
    def services(self, manager: ServiceManager) -> None:
        self._services = manager

    # --- paths and files -------------------------------------------------------------------

    def path(self, p: str) -> str:
        """The real path of logical absolute path ``p`` (``root + p``)."""
        if not p.startswith("/"):
            raise ProvisioningError(
                f"{p!r} is not an absolute path (on {self.name})",
                hint="steps and Host methods take absolute logical paths such as /etc/app/x.conf",
            )
        logical = posixpath.normpath(p)
        if logical.startswith("//"):
            logical = "/" + logical.lstrip("/")
        if self.root == "/":
            return logical
        return self.root if logical == "/" else self.root + logical

    def run(
        self,
        command: str,
        *,
        input: bytes | None = None,  # noqa: A002 - the contract's name
        timeout: float | None = None,
        check: bool = True,
    ) -> CommandResult:
        """Run ``command`` with ``/bin/sh -c``; a :class:`CommandError` if it fails and check."""
        result = self.transport.run(command, input=input, timeout=timeout)
        return result.check(self.name) if check else result

    def read(self, path: str) -> bytes | None:
        """The content of logical ``path``; None if it does not exist."""
        q = shlex.quote(self.path(path))
        result = self.run(f"test -e {q} || exit {_ABSENT}; cat -- {q}", check=False)
        if result.exit_status == _ABSENT:
            return None
        return result.check(self.name).stdout

    def write(self, path: str, data: bytes, mode: int = 0o644) -> None:
        """Write ``data`` to logical ``path`` atomically (a temporary file, then mv).

        Parent directories are created; readers see the old or the new file, never half.
        """
        real = self.path(path)
        q = shlex.quote(real)
        parent = shlex.quote(posixpath.dirname(real))
        self.run(
            f"mkdir -p -- {parent} && t=$(mktemp {parent}/.prov-write.XXXXXX) && "
            f'{{ cat > "$t" && chmod {mode:o} "$t" && mv -f -- "$t" {q}; }} '
            f'|| {{ s=$?; rm -f -- "$t"; exit $s; }}',
            input=data,
        )

    def exists(self, path: str) -> bool:
        """Whether logical ``path`` exists (a file, a directory, anything)."""
        return self.run(f"test -e {shlex.quote(self.path(path))}", check=False).ok

    def sha256(self, path: str) -> str | None:
        """The SHA-256 (hex) of the file at logical ``path``; None if it does not exist."""
        q = shlex.quote(self.path(path))
        result = self.run(f"test -e {q} || exit {_ABSENT}; sha256sum -- {q}", check=False)
        if result.exit_status == _ABSENT:
            return None
        return result.check(self.name).text().split()[0]

    def stat(self, path: str) -> tuple[str, int] | None:
        """``(kind, mode)`` of logical ``path`` ("file", "directory", "other"); None if absent."""
        q = shlex.quote(self.path(path))
        result = self.run(
            f"test -e {q} || exit {_ABSENT}; if test -d {q}; then k=directory; "
            f'elif test -f {q}; then k=file; else k=other; fi; echo "$k $(stat -L -c %a -- {q})"',
            check=False,
        )
        if result.exit_status == _ABSENT:
            return None
        kind, mode = result.check(self.name).text().split()
        return kind, int(mode, 8)

    def remove(self, path: str) -> None:
        """``rm -rf`` logical ``path`` (nothing happens if it is absent)."""
        real = self.path(path)
        if posixpath.normpath(path) == "/":
            raise ProvisioningError(
                f"refusing to remove / on {self.name}", hint="name the file or directory to remove"
            )
        self.run(f"rm -rf -- {shlex.quote(real)}")

    # --- lifetime ------------------------------------------------------------------------

    def close(self) -> None:
        """Close the transport (its SSH connection)."""
        self.transport.close()

    def __enter__(self) -> Host:  # noqa: PYI034 - typing.Self needs 3.11
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def connect(server: Server, ssh: SshAccess, *, connect_timeout: float = 15.0) -> Host:
    """A :class:`Host` for ``server`` over SSH; use it as ``with connect(server, ssh) as host:``.

    Nothing connects until the first command.  Health checks go to the
    server's first IP address (or the SSH host when it has none).
    """
    address = server.ip_addresses[0] if server.ip_addresses else ssh.host
    return Host(
        SshTransport(ssh, connect_timeout=connect_timeout), name=server.hostname, address=address
    )
