"""Helpers of the local provider's tests: the provider through the core, an SSH
client, and the CLI in process and as a process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncssh
from provisioning_core import Extension, ProviderSettings, Server, ServerConfig, SshAccess
from provisioning_core.testing import run_prov

from provisioning_provider_local import procs


def sandbox_pids(home: Path) -> list[int]:
    """Pids of processes of sandboxes under ``home`` (however its path was spelled)."""
    prefix = os.fsencode(home.resolve()) + b"/"

    def under(env: procs.Environ) -> bool:
        root = env.get(b"PROV_SANDBOX_ROOT")
        return root is not None and os.path.realpath(root).startswith(prefix)

    return procs.matching(under)


class Local:
    """The local provider as the core loads it; ``call`` passes the settings."""

    def __init__(self, extension: Extension, settings: ProviderSettings) -> None:
        self.extension = extension
        self.settings = settings

    def call(self, hook: str, **kwargs: Any) -> Any:
        if hook != "provider_info":  # the one provider hook without settings
            kwargs.setdefault("settings", self.settings)
        return self.extension.call(hook, **kwargs)

    def create(self, hostname: str = "web-1", **kwargs: Any) -> Server:
        config = ServerConfig(
            hostname=hostname,
            plan=kwargs.pop("plan", "small"),
            zone=kwargs.pop("zone", "local"),
            **kwargs,
        )
        return self.call("create_server", config=config, check=False)

    def info(self, server_id: str) -> Server:
        return self.call("get_server_info", server_id=server_id)

    def access(self, server_id: str) -> SshAccess:
        return self.call("get_ssh_access", server_id=server_id)


def ssh_run(
    access: SshAccess,
    command: str,
    *,
    stdin: bytes | None = None,
    username: str | None = None,
    client_key: str | None = None,
    timeout: float = 60,
) -> asyncssh.SSHCompletedProcess:
    """Run ``command`` over a real SSH connection, checking the host key."""

    async def go() -> asyncssh.SSHCompletedProcess:
        assert access.host_key
        async with asyncssh.connect(
            access.host,
            access.port,
            username=username or access.user,
            client_keys=[client_key or access.key_path],
            known_hosts=([asyncssh.import_public_key(access.host_key)], [], []),
            agent_path=None,
            config=None,
            connect_timeout=15,
        ) as conn:
            return await conn.run(command, input=stdin, encoding=None, check=False, timeout=timeout)

    return asyncio.run(go())


def prov(*args: str) -> tuple[int, str]:
    """Run the CLI's real entry point in process; (exit code, stdout + stderr)."""
    result = run_prov(*args)
    return result.exit_code, result.output


def prov_process(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``prov`` as a real process (``python -m provisioning_core``)."""
    return subprocess.run(
        [sys.executable, "-m", "provisioning_core", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )
