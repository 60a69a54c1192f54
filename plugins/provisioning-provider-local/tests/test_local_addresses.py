"""Sandbox addresses are claimed machine-wide: two PROV_HOMEs never share one, an
address something listens on is passed over, a stale claim is taken over, and a
delete releases its claim."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from local_support import Local, sandbox_pids

from provisioning_provider_local import addresses
from provisioning_provider_local.testing import reap


def test_two_homes_on_one_machine_never_share_an_address(
    local: Local, prov_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = local.create("web-1")
    other = tmp_path / "other-home"
    monkeypatch.setenv("PROV_HOME", str(other))
    try:
        second = local.create("web-1")  # the same hostname: another home, another user
        assert second.ip_addresses != first.ip_addresses
        claims = addresses.claims_dir()
        for server in (first, second):
            owner = json.loads((claims / server.ip_addresses[0]).read_text())
            assert Path(owner["sandbox_dir"]).name == server.id
        local.call("delete_server", server_id=second.id)
        assert not (claims / second.ip_addresses[0]).exists()  # released on delete
    finally:
        reap(other)
        assert sandbox_pids(other) == []


def test_an_address_in_use_is_passed_over(local: Local) -> None:
    free = addresses.next_free(set())
    with socket.socket() as squatter:  # another tool's service on that address
        squatter.bind((free, 0))
        squatter.listen()
        assert free in addresses.listening()
        server = local.create("web-1")
    assert server.ip_addresses != [free]


def test_a_stale_claim_is_taken_over_and_another_homes_claim_is_kept(
    local: Local, tmp_path: Path
) -> None:
    free = addresses.next_free(set())
    stale = addresses.claims_dir() / free
    gone = tmp_path / "removed-home" / "local" / "servers" / "local-00000000"
    stale.write_text(json.dumps({"sandbox_dir": str(gone), "pid": 1}))
    try:
        server = local.create("web-1")
        assert server.ip_addresses == [free]  # its sandbox is gone: the claim was stale
        owner = json.loads(stale.read_text())
        assert Path(owner["sandbox_dir"]).name == server.id
        # releasing for a sandbox that does not hold the claim leaves it alone
        addresses.release(free, gone)
        assert stale.exists()
    finally:
        local.call("delete_server", server_id=server.id)
    assert not stale.exists()


def test_what_a_killed_create_left_is_swept_with_its_claim(local: Local, prov_home: Path) -> None:
    from provisioning_provider_local.store import servers_dir

    server = local.create("web-1")  # the provider's state exists
    debris = servers_dir() / "local-0badf00d"  # made, then the create was killed
    debris.mkdir()
    address = addresses.claim({server.ip_addresses[0]}, debris)
    assert (addresses.claims_dir() / address).exists()
    listed = local.call("list_servers")
    assert [s.id for s in listed] == [server.id]
    assert not debris.exists()
    assert not (addresses.claims_dir() / address).exists()
    assert server.ip_addresses[0] in {p.name for p in addresses.claims_dir().iterdir()}


def test_reaping_a_test_home_releases_its_claims(local: Local, prov_home: Path) -> None:
    server = local.create("web-1")
    claim = addresses.claims_dir() / server.ip_addresses[0]
    assert claim.exists()
    reap(prov_home)  # what a test's teardown does; the sandbox's directory stays
    assert not claim.exists()
