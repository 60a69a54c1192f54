"""Fixtures: the core's isolated PROV_HOME for every test, ``prov`` run in process
(both from provisioning-core's pytest plugin), a local server to install on.

Every process a test starts in a local sandbox is reaped when it ends, by the
core's ``prov_home``, whatever the test did.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from provisioning_core.testing import ProvRunner, free_ports


@pytest.fixture(autouse=True)
def prov_home(prov_home: Path) -> Path:
    """The core's ``prov_home`` (which reaps the sandboxes at teardown), for every test."""
    return prov_home


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """``settings(greeting=...)`` writes ``[taskservs.my-service]`` to the config prov reads.

    The ports are free ones unless ``default_ports``: another test run on this
    machine may have a sandbox on the same 127.0.0.N with my-service on 8080.
    """
    path = tmp_path / "config.toml"
    monkeypatch.setenv("PROV_CONFIG", str(path))
    port, metrics_port = free_ports(2)
    ports = {"port": port, "metrics_port": metrics_port}

    def write(*, default_ports: bool = False, **values: Any) -> None:
        values = values if default_ports else {**ports, **values}
        lines = ["[taskservs.my-service]"] + [f"{k} = {json.dumps(v)}" for k, v in values.items()]
        path.write_text("\n".join(lines) + "\n")

    write()
    return write


@attrs.frozen
class LocalServer:
    id: str
    hostname: str
    address: str
    root: Path  # the sandbox's file system root: logical "/" of the server

    def port(self, key: str = "port") -> int:
        """The port the deployed config names (8080/9090 while there is none)."""
        config = self.root / "etc/my-service/config.json"
        if config.exists():
            port: int = json.loads(config.read_text())[key]
            return port
        return 9090 if key == "metrics_port" else 8080

    def url(self, path: str, port: str | int = "port") -> str:
        number = port if isinstance(port, int) else self.port(port)
        return f"http://{self.address}:{number}{path}"

    def get(self, path: str, port: str | int = "port") -> tuple[int, bytes]:
        """GET ``path`` on the API port (``port="metrics_port"``, or a number: that port)."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(self.url(path, port), timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, exc.read()

    def get_json(self, path: str) -> Any:
        status, body = self.get(path)
        assert status == 200, (path, status, body)
        return json.loads(body)


def create_server(prov: ProvRunner, hostname: str = "web-1") -> LocalServer:
    created = prov(
        "server", "create", hostname, "--provider", "local", "--plan", "small",
        "--zone", "local", "--wait", "-o", "json",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    server = created.json()["results"][0]["data"]
    root = Path(os.environ["PROV_HOME"]) / "local" / "servers" / server["id"] / "root"
    assert root.is_dir(), f"no sandbox root at {root}"
    return LocalServer(server["id"], hostname, server["ip_addresses"][0], root)


@pytest.fixture
def web1(prov: ProvRunner) -> LocalServer:
    """A running local server ``web-1``."""
    return create_server(prov)
