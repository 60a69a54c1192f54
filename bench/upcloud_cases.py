"""The upcloud provider against its local UpCloud API emulator.

Two comparisons, against baselines measured in the same run:

- ``get_server_info`` through the core (extension call, upcloud-api,
  structuring into ``Server``) against the bare HTTP request it makes
  (``http.client``, same auth header, same emulator): what the plugin and
  the SDK add to one API round trip;
- ``list_servers`` with 50 servers against 1: listing costs the same two
  requests (/server, /ip_address) whatever the count, so the ratio is the
  cost of mapping 49 more records.

Needs provisioning-provider-upcloud installed (``nox -s bench`` installs it);
the section reports itself as failed otherwise.  Imported by run.py only
after PROV_HOME points at a temporary directory.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cases import Report
from timing import each_round

MANY = 50


def run_upcloud(report: Report, root: Path, *, quick: bool) -> None:
    """One server's details through the plugin vs raw HTTP; a list of 50 vs 1."""
    from provisioning_provider_upcloud.emulator import DEFAULT_TOKEN, UpCloudEmulator

    from provisioning_core import (
        ExtensionManager,
        ProviderApi,
        ProviderAuth,
        ProviderSettings,
        Secret,
        ServerConfig,
    )

    n = 20 if quick else 80
    with (
        UpCloudEmulator(maintenance_seconds=0) as one,
        UpCloudEmulator(maintenance_seconds=0) as many,
    ):
        provider = ExtensionManager().load_extension("provider", "upcloud")

        def settings(emulator: Any) -> Any:
            return ProviderSettings(
                name="upcloud",
                auth=ProviderAuth(token=Secret(DEFAULT_TOKEN)),
                api=ProviderApi(base_url=emulator.base_url, timeout=10.0),
                options={"poll_interval": 0.01},
            )

        def create(emulator: Any, hostname: str) -> str:
            config = ServerConfig(hostname=hostname, plan="1xCPU-1GB", zone="fi-hel1")
            server = provider.call(
                "create_server", settings=settings(emulator), config=config, check=False
            )
            return str(server.id)

        server_id = create(one, "bench-1")
        for i in range(MANY):
            create(many, f"bench-{i + 1}")

        def info() -> None:
            provider.call("get_server_info", settings=settings(one), server_id=server_id)

        raw = _raw_get(one.base_url, f"/server/{server_id}", DEFAULT_TOKEN)
        via_plugin, bare = each_round([info, raw], n=n)
        report.time(
            "upcloud.info.plugin", "get_server_info through the core and upcloud-api", via_plugin
        )
        report.time("upcloud.info.http", "GET /server/{uuid}, http.client (baseline)", bare)
        report.ratio(
            "ratio.upcloud_info",
            "get_server_info / bare HTTP request",
            "upcloud.info.plugin",
            "upcloud.info.http",
            note="what the plugin, upcloud-api (requests) and structuring add to one round trip",
        )

        def listing(emulator: Any) -> Callable[[], None]:
            return lambda: provider.call("list_servers", settings=settings(emulator))

        list_one, list_many = each_round([listing(one), listing(many)], n=n)
        report.time("upcloud.list.1", "list_servers, 1 server (baseline)", list_one)
        report.time(f"upcloud.list.{MANY}", f"list_servers, {MANY} servers", list_many)
        report.ratio(
            "ratio.upcloud_list",
            f"list_servers {MANY} / 1",
            f"upcloud.list.{MANY}",
            "upcloud.list.1",
            note="two requests whatever the count; the rest is mapping records",
        )
    report.meta["upcloud"] = {"peer": "the plugin's UpCloud API emulator on 127.0.0.1, in process"}


def _raw_get(base_url: str, path: str, token: str) -> Callable[[], None]:
    """One GET with a new connection per request, as requests does without a session pool."""
    host_port, _, prefix = base_url.removeprefix("http://").partition("/")
    host, _, port = host_port.partition(":")
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def get() -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            connection.request("GET", f"/{prefix}{path}", headers=headers)
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f"GET {path}: {response.status} {body[:200]!r}")
            json.loads(body)
        finally:
            connection.close()

    return get


SECTIONS: dict[str, Callable[..., None]] = {"upcloud": run_upcloud}
