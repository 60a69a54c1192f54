"""The step that puts one shipped version of the service program on a host.

A :class:`provisioning_core.File` would do, but it reads the whole file back
to compare and diffs the entire program on a first install; comparing
sha256 digests is one short command, and a plan that says "install
my-service 1.1.0" (or "replace 1.0.0 with 1.1.0") tells the reader more.
"""

from __future__ import annotations

import hashlib
import shlex

from provisioning_core import Host
from provisioning_core.runtime import Change

from provisioning_taskserv_my_service import payload

__all__ = ["Program"]


class Program:
    """The program of ``version`` at logical ``path``, executable."""

    mode = 0o755

    def __init__(self, path: str, version: str) -> None:
        self.path = path
        self.version = version
        self.data = payload.binary(version)

    def describe(self) -> str:
        return f"program {self.path} ({self.version})"

    def apply(self, host: Host, check: bool) -> Change | None:
        digest = host.sha256(self.path)
        if digest == hashlib.sha256(self.data).hexdigest():
            stat = host.stat(self.path)
            if stat is None or stat[1] == self.mode:
                return None
            if not check:
                host.run(f"chmod {self.mode:o} {shlex.quote(host.path(self.path))}")
            return Change(f"chmod {self.mode:04o} {self.path}")
        if digest is None:
            change = Change(f"install {self.path} ({self.version})")
        else:
            before = payload.shipped_version(digest) or payload.declared_version(
                host.read(self.path) or b""
            )
            change = Change(f"replace {self.path} ({before} -> {self.version})")
        if not check:
            host.write(self.path, self.data, self.mode)
        return change
