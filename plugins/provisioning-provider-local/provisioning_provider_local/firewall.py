"""The firewall of a sandbox: which connections to its SSH endpoint are let in.

The SSH endpoint is logical port 22/tcp, inbound.  With no rules everything
is accepted.  With rules, the first rule that applies decides (``accept``
lets the connection in, ``drop`` and ``reject`` close it at once); when none
applies the connection is refused: a firewall with rules is an allow list.
A rule applies when its direction is ``in``, its protocol ``tcp`` or
``any``, its port None, 22 or a range holding 22 (``port``..``port_end``),
its source None or a network holding the
client's address, and its destination None or a network holding the
sandbox's address.  Stdlib only: the daemon evaluates this on every new
connection.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["SSH_PORT", "decide", "rule_text"]

SSH_PORT = 22

Rule = Mapping[str, Any]


def _within(address: str, network: str | None) -> bool:
    if not network:
        return True
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False  # an unreadable network holds nobody


def _holds(rule: Rule, port: int) -> bool:
    first = rule.get("port")
    if first is None:
        return True
    last = rule.get("port_end")
    return bool(first <= port <= (first if last is None else last))


def applies(rule: Rule, *, client: str, server: str, port: int = SSH_PORT) -> bool:
    """Whether ``rule`` concerns a TCP connection from ``client`` to ``server:port``."""
    return (
        rule.get("direction") == "in"
        and rule.get("protocol") in ("tcp", "any")
        and _holds(rule, port)
        and _within(client, rule.get("source"))
        and _within(server, rule.get("destination"))
    )


def decide(
    rules: Sequence[Rule], *, client: str, server: str, port: int = SSH_PORT
) -> tuple[str, int | None]:
    """The action for a connection and the index of the rule that decided (None: no rule)."""
    if not rules:
        return "accept", None
    for index, rule in enumerate(rules):
        if applies(rule, client=client, server=server, port=port):
            return str(rule.get("action")), index
    return "reject", None


def rule_text(rule: Rule) -> str:
    """A rule as one line for logs: ``in tcp 22 accept from 10.0.0.0/8``."""
    ports = str(rule.get("port") or "*")
    if rule.get("port") and rule.get("port_end") not in (None, rule.get("port")):
        ports += f"-{rule['port_end']}"
    text = f"{rule.get('direction')} {rule.get('protocol')} {ports} "
    text += str(rule.get("action"))
    if rule.get("source"):
        text += f" from {rule['source']}"
    if rule.get("destination"):
        text += f" to {rule['destination']}"
    return text
