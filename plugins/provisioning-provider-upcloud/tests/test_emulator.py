"""The emulator itself: UpCloud's shapes as the SDK reads them, auth, asynchronous states,
scripted failures, and `python -m provisioning_provider_upcloud.emulator`."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from upcloud_api import CloudManager, Server, Storage, UpCloudAPIError, login_user_block
from upcloud_api.api import API
from upcloud_support import TOKEN

from provisioning_provider_upcloud.emulator import UpCloudEmulator


@pytest.fixture
def sdk(emulator, monkeypatch):
    monkeypatch.setattr(API, "api_root", emulator.base_url)
    return CloudManager(token=TOKEN, timeout=10)


def raw(emulator, method, path, authorization=f"Bearer {TOKEN}", body=None):
    request = urllib.request.Request(
        emulator.base_url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": authorization} if authorization else {},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def test_the_sdk_reads_every_shape(sdk, emulator):
    assert sdk.get_account()["account"]["username"]
    assert [z["id"] for z in sdk.get_zones()["zones"]["zone"]][:2] == ["de-fra1", "fi-hel1"]
    assert sdk.get_server_plans()["plans"]["plan"][0]["name"] == "1xCPU-1GB"
    assert {"Rocky Linux 9": "01000000-0000-4000-8000-000150020100"} in sdk.get_templates()
    server = sdk.create_server(
        Server(
            hostname="sdk-1",
            zone="de-fra1",
            plan="1xCPU-1GB",
            storage_devices=[Storage(os="01000000-0000-4000-8000-000020070100", size=25)],
            login_user=login_user_block("root", ["ssh-ed25519 AAAA k"]),
        )
    )
    assert server.state == "maintenance"
    assert sdk.get_server(server.uuid).get_public_ip().startswith("198.18.")
    assert [s.uuid for s in sdk.get_servers()] == [server.uuid]
    assert {ip.server for ip in sdk.get_ips()} == {server.uuid}
    time.sleep(0.25)
    assert sdk.get_server(server.uuid).state == "started"
    sdk.create_firewall_rule(server.uuid, {"direction": "in", "action": "drop"})
    assert [r.position for r in sdk.get_firewall_rules(server.uuid)] == ["1"]
    with pytest.raises(UpCloudAPIError) as caught:
        sdk.delete_server(server.uuid)
    assert caught.value.error_code == "SERVER_STATE_ILLEGAL"


def test_wrong_credentials_get_upclouds_401(emulator):
    for authorization in (None, "Bearer nope", "Basic bm9wZTpub3Bl", "Token x"):
        status, _, body = raw(emulator, "GET", "/account", authorization)
        assert status == 401
        assert json.loads(body)["error"]["error_code"] == "AUTHENTICATION_FAILED"
    assert [r.auth for r in emulator.requests] == ["none", "bearer", "basic", "other"]
    assert not any(r.authenticated for r in emulator.requests)


def test_scripted_failures_and_unknown_paths(emulator):
    emulator.throttle(1, retry_after=2.5)
    status, headers, _ = raw(emulator, "GET", "/zone")
    assert (status, headers["Retry-After"]) == (429, "2.5")
    emulator.fail(503, times=2, method="GET", path="^/plan$")
    assert [raw(emulator, "GET", "/plan")[0] for _ in range(3)] == [503, 503, 200]
    assert raw(emulator, "GET", "/zone")[0] == 200
    assert raw(emulator, "GET", "/nowhere")[0] == 404
    assert raw(emulator, "DELETE", "/zone")[0] == 405
    assert raw(emulator, "POST", "/server", body={"server": {"zone": "mars"}})[0] == 400
    assert emulator.writes == 2  # the DELETE and the POST, refused or not
    assert emulator.count("GET", "^/plan$") == 3


def test_serves_from_the_command_line():
    process = subprocess.Popen(
        [sys.executable, "-m", "provisioning_provider_upcloud.emulator", "--maintenance", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("UpCloud API emulator at http://127.0.0.1:")
        base_url = line.split()[4]
        request = urllib.request.Request(
            base_url + "/zone", headers={"Authorization": "Bearer ucat_emulator-token"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert json.load(answer)["zones"]["zone"]
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


def test_price_shape_is_checked():
    with pytest.raises(ValueError, match="price_shape must be one of"):
        UpCloudEmulator(price_shape="per-minute")
