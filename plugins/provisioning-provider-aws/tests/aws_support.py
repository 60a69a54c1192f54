"""Helpers of the aws provider's tests: the provider through the core, the workspace
file, the CLI in process, and a boto3 client that reads moto's state directly."""

from __future__ import annotations

import json
import time
from typing import Any

from provisioning_core import Extension, ProviderSettings, Server, ServerConfig
from provisioning_core.testing import run_prov

from provisioning_provider_aws.lab import ACCESS_KEY, SECRET_KEY, AwsLab

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@laptop"
OTHER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFg2pM5mH5d3b6wq9bUqR2uLCHxqQ6LTcmFvGPKXmbwx me@ci"


class AwsHooks:
    """The aws provider as the core loads it; ``call`` passes the settings."""

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
            plan=kwargs.pop("plan", "t3.micro"),
            zone=kwargs.pop("zone", "us-east-1a"),
            os=kwargs.pop("os", "amazon-linux-2023"),
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
            time.sleep(0.05)


def moto_ec2(lab: AwsLab, region: str = "us-east-1") -> Any:
    """boto3's EC2 client straight at moto (not through the front): the tests' own eyes."""
    import boto3

    return boto3.client(
        "ec2",
        region_name=region,
        endpoint_url=lab.moto_url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


def prov(*args: str) -> tuple[int, str]:
    """Run the CLI's real entry point in process; (exit code, stdout + stderr)."""
    result = run_prov(*args)
    return result.exit_code, result.output


def document(output: str) -> Any:
    """The JSON document the output starts with (stderr lines may follow it)."""
    return json.JSONDecoder().raw_decode(output, output.index("{"))[0]
