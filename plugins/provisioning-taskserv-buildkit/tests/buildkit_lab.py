"""The lab of the end-to-end tests: local sandboxes (real SSH on 127.0.0.N) created
through the core's operations, taskserv operations run the way `prov` runs them,
and snapshots of a sandbox's files and processes."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from pathlib import Path
from typing import Any

import attrs
from provisioning_core import Server, SshAccess, connect
from provisioning_core.operations import Engine, TargetResult
from provisioning_core.operations.servers import create_servers
from provisioning_core.operations.taskservs import run_taskserv
from provisioning_core.testing import ArtifactMirror


@attrs.frozen
class Sandbox:
    hostname: str
    server: Server
    ssh: SshAccess
    root: Path


class Lab:
    """Creates sandboxes and runs taskserv operations the way `prov` does."""

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

    def engine(self, *, check: bool = False, sleep: Any = None) -> Engine:
        lines = []
        for name, table in self.settings.items():
            lines.append(f'[taskservs."{name}"]')
            lines += [f"{key} = {_toml(value)}" for key, value in table.items()]
        (self.work / "provisioning.toml").write_text("\n".join(lines) + "\n")
        return Engine(check=check, sleep=sleep)

    def create(self, hostname: str) -> Sandbox:
        with self.engine() as engine:
            report = create_servers(
                engine, hostname, provider="local", plan="small", zone="local", wait=True
            )
            assert report.ok, report
            server_id = report.results[0].data["id"]
            p = engine.provider("local")
            server = p.call("get_server_info", server_id=server_id)
            ssh = p.call("get_ssh_access", server_id=server_id)
        with connect(server, ssh) as host:
            root = Path(host.root)
        return Sandbox(hostname, server, ssh, root)

    def run(
        self, action: str, name: str, box: Sandbox, *, check: bool = False, **kwargs: Any
    ) -> TargetResult:
        with self.engine(check=check) as engine:
            report = run_taskserv(engine, action, name, [box.hostname], **kwargs)
        (result,) = report.results
        return result


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def tree(root: Path) -> dict[str, str]:
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


def processes(root: Path) -> set[tuple[int, str]]:
    """The processes running inside the sandbox at ``root`` (pid, command line).

    Sessions the SSH daemon starts for each command end with the command, so
    they are waited out briefly: what stays is the sandbox's own processes.
    """
    wanted = os.fsencode(str(root))
    for _ in range(50):
        found: set[tuple[int, str]] = set()
        transient = False
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                environ = (entry / "environ").read_bytes().split(b"\0")
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if b"PROV_SANDBOX_ROOT=" + wanted in environ:
                found.add((int(entry.name), cmdline.strip()))
                transient = transient or cmdline.startswith(("/bin/sh -c", "sh -c"))
        if not transient:
            return found
        time.sleep(0.1)
    return found
