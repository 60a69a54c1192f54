"""A server's firewall: one security group of its own, its rules replaced exactly.

The group is named ``prov-<hostname>-<instance id>`` and tagged
``prov:server = <instance id>``.  Ingress is exactly the ``in`` rules given;
egress is exactly the ``out`` rules given, or, when none are, everything
(AWS's default, so the server still reaches its package mirrors).  Security
groups only allow: a ``drop`` or ``reject`` rule is refused before anything
is called, and so is an incoming rule's destination or an outgoing rule's
source (the server itself).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from provisioning_core import ConfigError, FirewallRule

__all__ = ["ALL_TRAFFIC", "SERVER_TAG", "permission_keys", "permissions", "split"]

SERVER_TAG = "prov:server"
ALL_TRAFFIC: dict[str, Any] = {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
_PROTOCOLS = {"tcp": "tcp", "udp": "udp", "icmp": "icmp", "any": "-1"}


def permissions(
    rules: Iterable[FirewallRule], field: str = "$.rules"
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(ingress, egress) IpPermissions for ``rules``; ConfigError naming each bad rule."""
    ingress: list[dict[str, Any]] = []
    egress: list[dict[str, Any]] = []
    problems: list[str] = []
    for index, rule in enumerate(rules):
        if rule.action != "accept":
            problems.append(
                f"AWS security groups only allow traffic; {rule.action!r} cannot be expressed "
                f"@ {field}[{index}].action"
            )
            continue
        # the other end of a rule is the server itself, which a group cannot narrow
        stray = "destination" if rule.direction == "in" else "source"
        if getattr(rule, stray):
            problems.append(
                f"an {'incoming' if rule.direction == 'in' else 'outgoing'} rule's {stray} is "
                f"the server itself; a security group cannot narrow it @ {field}[{index}].{stray}"
            )
            continue
        peer = rule.source if rule.direction == "in" else rule.destination
        cidr = peer or "0.0.0.0/0"
        if "/" not in cidr:
            cidr = f"{cidr}/128" if ":" in cidr else f"{cidr}/32"
        low, high = (rule.ports or (0, 65535)) if rule.protocol in ("tcp", "udp") else (-1, -1)
        permission = _permission(_PROTOCOLS[rule.protocol], low, high, cidr)
        (ingress if rule.direction == "in" else egress).append(permission)
    if problems:
        raise ConfigError("firewall rules the aws provider cannot apply", problems=problems)
    return ingress, egress or [ALL_TRAFFIC]


def permission_keys(permissions: Iterable[dict[str, Any]]) -> set[tuple[Any, ...]]:
    """Each (protocol, from, to, cidr) of ``permissions``: one key per address range."""
    keys = set()
    for p in permissions:
        protocol = str(p.get("IpProtocol"))
        low = p.get("FromPort", -1) if protocol != "-1" else -1
        high = p.get("ToPort", -1) if protocol != "-1" else -1
        for r in p.get("IpRanges", []):
            keys.add((protocol, low, high, r["CidrIp"]))
        for r in p.get("Ipv6Ranges", []):
            keys.add((protocol, low, high, r["CidrIpv6"]))
    return keys


def split(keys: Iterable[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """IpPermissions, one per key (the form authorize and revoke take)."""
    return [_permission(*key) for key in sorted(keys, key=str)]


def _permission(protocol: str, low: int, high: int, cidr: str) -> dict[str, Any]:
    """One IpPermission: a protocol ("-1": all, which takes no ports), a port range, a range."""
    ranges = (
        {"Ipv6Ranges": [{"CidrIpv6": cidr}]} if ":" in cidr else {"IpRanges": [{"CidrIp": cidr}]}
    )
    permission: dict[str, Any] = {"IpProtocol": protocol, **ranges}
    if protocol != "-1":
        permission.update(FromPort=low, ToPort=high)
    return permission
