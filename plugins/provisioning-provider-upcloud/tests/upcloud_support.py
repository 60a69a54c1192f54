"""Helpers of the upcloud provider's tests: credentials, the workspace file, the provider
through the core, and the CLI in process."""

from __future__ import annotations

import json
import time
from typing import Any

from click.testing import CliRunner
from provisioning_core import Extension, ProviderSettings, Server, ServerConfig
from provisioning_core.cli import main

# distinctive, so a leak anywhere is found by a plain substring search
TOKEN = "ucat_TOKEN-7f3a9c-never-printed"
USERNAME = "prov-tester"
PASSWORD = "PASSWORD-91be4d-never-printed"

WORKSPACE = """
[providers.upcloud.auth]
{auth}

[providers.upcloud.api]
base_url = "{base_url}"
timeout = 10
{api}

[providers.upcloud.defaults]
zone = "fi-hel1"
plan = "1xCPU-1GB"
os = "ubuntu-24.04"
ssh_user = "deploy"

[providers.upcloud.options]
poll_interval = 0.02
maintenance_timeout = 10

[operations]
wait_interval = 0.02
wait_timeout = 30
retry_base_delay = 0.01
retry_max_delay = 0.5
"""


def workspace_toml(
    base_url: str, *, auth: str = 'token = "${UPCLOUD_TOKEN}"', api: str = ""
) -> str:
    return WORKSPACE.format(base_url=base_url, auth=auth, api=api)


class UpCloudHooks:
    """The upcloud provider as the core loads it; ``call`` passes the settings."""

    def __init__(self, extension: Extension, settings: ProviderSettings) -> None:
        self.extension = extension
        self.settings = settings

    def call(self, hook: str, **kwargs: Any) -> Any:
        if hook != "provider_info":
            kwargs.setdefault("settings", self.settings)
        return self.extension.call(hook, **kwargs)

    def create(self, hostname: str = "web-1", *, check: bool = False, **kwargs: Any) -> Server:
        config = ServerConfig(
            hostname=hostname,
            plan=kwargs.pop("plan", "1xCPU-1GB"),
            zone=kwargs.pop("zone", "fi-hel1"),
            os=kwargs.pop("os", "ubuntu-24.04"),
            **kwargs,
        )
        return self.call("create_server", config=config, check=check)

    def info(self, server_id: str) -> Server:
        return self.call("get_server_info", server_id=server_id)

    def wait(self, server_id: str, status: str, timeout: float = 15) -> Server:
        deadline = time.monotonic() + timeout
        while True:
            server = self.info(server_id)
            if server.status == status:
                return server
            assert time.monotonic() < deadline, f"{server_id} is {server.status}, not {status}"
            time.sleep(0.02)


def prov(*args: str) -> tuple[int, str]:
    """Run the CLI's real entry point in process; (exit code, stdout + stderr)."""
    runner = CliRunner()
    with runner.isolation() as (out, err, _):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        else:  # pragma: no cover - main always exits
            code = 0
        return code, out.getvalue().decode() + err.getvalue().decode()


def document(output: str) -> Any:
    """The JSON document the output starts with (stderr lines may follow it)."""
    return json.JSONDecoder().raw_decode(output, output.index("{"))[0]


def results(output: str) -> list[dict[str, Any]]:
    return document(output)["results"]
