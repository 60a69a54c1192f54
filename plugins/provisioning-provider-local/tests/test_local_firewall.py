"""The firewall in front of a sandbox's SSH endpoint (logical port 22/tcp, inbound)."""

from __future__ import annotations

import json

import asyncssh
import pytest
from local_support import prov, ssh_run
from provisioning_core import FirewallRule

from provisioning_provider_local.firewall import decide


def rule(
    direction="in", protocol="tcp", action="accept", port=22, source=None, destination=None, **more
):
    return {
        "direction": direction,
        "protocol": protocol,
        "action": action,
        "port": port,
        "source": source,
        "destination": destination,
        **more,
    }


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        ([], ("accept", None)),
        ([rule(action="drop", source="127.0.0.0/8")], ("drop", 0)),
        ([rule(action="drop", source="10.0.0.0/8")], ("reject", None)),  # allow list: none applies
        ([rule(port=8080, action="drop"), rule()], ("accept", 1)),
        ([rule(port=None, protocol="any", action="reject"), rule()], ("reject", 0)),
        ([rule(direction="out", action="drop"), rule()], ("accept", 1)),
        ([rule(protocol="udp", action="drop"), rule(protocol="icmp", port=None)], ("reject", None)),
        ([rule(source="127.0.0.1")], ("accept", 0)),
        ([rule(destination="127.0.0.3/32", action="drop"), rule()], ("accept", 1)),
        ([rule(source="not-a-network", action="drop"), rule()], ("accept", 1)),
        # port ranges: 20-30 holds 22, 23-30 does not
        ([rule(port=20, port_end=30, action="drop"), rule()], ("drop", 0)),
        ([rule(port=23, port_end=30, action="drop"), rule()], ("accept", 1)),
    ],
)
def test_the_first_rule_that_applies_decides(rules, expected):
    assert decide(rules, client="127.0.0.1", server="127.0.0.2") == expected


def closed(access) -> bool:
    """Whether the endpoint closes the connection at once (it listens, but lets nobody in)."""
    try:
        ssh_run(access, "true")
    except ConnectionRefusedError:
        raise AssertionError("nothing listens: the daemon is gone, not firewalled") from None
    except (OSError, asyncssh.Error):
        return True
    return False


def test_rules_take_effect_on_the_next_connection(local, prov_home):
    server = local.create("web-1")
    access = local.access(server.id)
    meta = prov_home / "local" / "servers" / server.id / "server.json"
    daemon = json.loads(meta.read_text())["daemon_pid"]

    def apply(*rules: FirewallRule) -> None:
        local.call("configure_firewall", server_id=server.id, rules=list(rules))

    assert not closed(access)
    apply(FirewallRule("in", "tcp", "drop", port=22, source="127.0.0.0/8"))
    assert closed(access)
    apply(FirewallRule("in", "tcp", "accept", port=22, source="127.0.0.0/8"))
    assert ssh_run(access, "echo in").stdout == b"in\n"
    # a rule for another port does not apply to SSH; the next one does
    apply(
        FirewallRule("in", "tcp", "drop", port=8080, source="127.0.0.0/8"),
        FirewallRule("in", "tcp", "accept", port=22, source="127.0.0.1/32"),
    )
    assert not closed(access)
    # with rules, the firewall is an allow list: nothing for port 22 shuts SSH out
    apply(FirewallRule("in", "tcp", "accept", port=8080))
    assert closed(access)
    apply(FirewallRule("in", "any", "reject"))
    assert closed(access)
    apply()
    assert not closed(access)
    assert json.loads(meta.read_text())["daemon_pid"] == daemon  # no restart needed
    log = (prov_home / "local" / "servers" / server.id / "daemon.log").read_text()
    assert (
        "firewall: drop connection from 127.0.0.1 (rule 1: in tcp 22 drop from 127.0.0.0/8)" in log
    )


def test_rules_given_at_create_are_enforced(local):
    server = local.create(
        "web-1", firewall_rules=[FirewallRule("in", "tcp", "drop", port=22, source="127.0.0.1")]
    )
    assert local.info(server.id).status.value == "running"  # running, just closed to us
    assert closed(local.access(server.id))


def test_the_cli_sets_rules(local):
    server = local.create("web-1")
    code, output = prov(
        "server",
        "firewall",
        server.id,
        "--provider",
        "local",
        "--rule",
        "in,tcp,22,drop,127.0.0.0/8",
    )
    assert code == 0, output
    assert closed(local.access(server.id))
