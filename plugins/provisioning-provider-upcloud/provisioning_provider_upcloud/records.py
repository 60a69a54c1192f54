"""Pure mappings between UpCloud's API records and the core's models (no I/O here)."""

from __future__ import annotations

import ipaddress
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from provisioning_core import (
    ConfigError,
    FirewallRule,
    Plan,
    Price,
    Server,
    ServerStatus,
    Zone,
)

__all__ = [
    "forget",
    "intend",
    "os_slug",
    "plan_record",
    "prices",
    "rule_body",
    "same_rules",
    "server_record",
    "status",
    "template_for",
    "zone_record",
]

# -- state ---------------------------------------------------------------------

_STABLE = {
    "started": ServerStatus.RUNNING,
    "stopped": ServerStatus.STOPPED,
    "error": ServerStatus.ERROR,
}
# what a server in `maintenance` is doing, for the changes this process asked for
# (UpCloud says only "maintenance"); forgotten once the server settles
_INTENT: dict[str, ServerStatus] = {}
_INTENT_LOCK = threading.Lock()
_SETTLES_AS = {
    ServerStatus.CREATING: "started",
    ServerStatus.STARTING: "started",
    ServerStatus.REBOOTING: "started",
    ServerStatus.STOPPING: "stopped",
    ServerStatus.DELETING: "stopped",
}


def intend(server_id: str, what: ServerStatus) -> None:
    """Remember that this process asked ``server_id`` to do ``what``."""
    with _INTENT_LOCK:
        _INTENT[server_id] = what


def forget(server_id: str) -> None:
    with _INTENT_LOCK:
        _INTENT.pop(server_id, None)


def status(server_id: str, state: object) -> ServerStatus:
    """UpCloud's ``state`` as a :class:`ServerStatus`.

    started -> running, stopped -> stopped, error -> error; ``maintenance``
    (and any state UpCloud may add) is transitional: what this process asked
    for (creating, stopping, rebooting...) or else "starting".
    """
    with _INTENT_LOCK:
        intent = _INTENT.get(server_id)
        stable = _STABLE.get(str(state))
        if stable is not None:
            if intent is not None and (state == "error" or _SETTLES_AS[intent] == state):
                del _INTENT[server_id]
            return stable
        return intent or ServerStatus.STARTING


# -- servers -------------------------------------------------------------------

_ADDRESS_ORDER: dict[tuple[object, object], int] = {
    ("public", "IPv4"): 0,
    ("public", "IPv6"): 1,
    ("utility", "IPv4"): 2,
}


def _addresses(records: Iterable[Mapping[str, Any]]) -> list[str]:
    ordered = sorted(
        (r for r in records if r.get("address")),
        key=lambda r: _ADDRESS_ORDER.get((r.get("access"), r.get("family", "IPv4")), 3),
    )
    return [str(r["address"]) for r in ordered]


def labels_of(record: Mapping[str, Any]) -> dict[str, str]:
    labels = record.get("labels") or []
    if isinstance(labels, dict):
        labels = labels.get("label") or []
    return {
        str(label["key"]): str(label.get("value", ""))
        for label in labels
        if isinstance(label, dict) and "key" in label
    }


def server_record(record: Mapping[str, Any], addresses: Iterable[Mapping[str, Any]] = ()) -> Server:
    """A server's UpCloud record (list entry or details) as a :class:`Server`.

    ``addresses`` are its IP address records when the record has none (a list entry).
    """
    server_id = str(record["uuid"])
    own = record.get("ip_addresses")
    if isinstance(own, dict):
        own = own.get("ip_address")
    return Server(
        id=server_id,
        hostname=str(record.get("hostname") or record.get("title") or server_id),
        status=status(server_id, record.get("state")),
        plan=str(record["plan"]) if record.get("plan") else None,
        zone=str(record["zone"]) if record.get("zone") else None,
        ip_addresses=_addresses(own or addresses),
        tags=labels_of(record),
    )


def public_ipv4(record: Mapping[str, Any]) -> str | None:
    for address in record.get("ip_addresses") or []:
        if address.get("access") == "public" and address.get("family", "IPv4") == "IPv4":
            return str(address["address"])
    return None


# -- catalogue -----------------------------------------------------------------


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def zone_record(record: Mapping[str, Any]) -> Zone:
    return Zone(name=str(record["id"]), description=str(record.get("description") or ""))


def plan_record(record: Mapping[str, Any]) -> Plan:
    return Plan(
        name=str(record["name"]),
        cores=_int(record.get("core_number")),
        memory_mb=_int(record.get("memory_amount")),
        storage_gb=_int(record.get("storage_size")),
    )


def _unit_price(entry: Any) -> float | None:
    """Price per unit of a ``{"amount": N, "price": P}`` entry, or None if it is not one."""
    if not isinstance(entry, dict):
        return None
    price, amount = entry.get("price"), entry.get("amount", 1)
    if isinstance(price, bool) or not isinstance(price, (int, float)):
        return None
    if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount <= 0:
        return None
    return float(price) / float(amount)


def _plan_cents(zone: Mapping[str, Any], plan: Mapping[str, Any]) -> float | None:
    own = _unit_price(zone.get(f"server_plan_{plan.get('name')}"))
    if own is not None:
        return own
    # no per-plan price: the plan's parts at the zone's component prices
    core, memory = _unit_price(zone.get("server_core")), _unit_price(zone.get("server_memory"))
    cores, memory_mb = _int(plan.get("core_number")), _int(plan.get("memory_amount"))
    if None in (core, memory, cores, memory_mb):
        return None
    total = (cores or 0) * (core or 0.0) + (memory_mb or 0) * (memory or 0.0)
    storage = _unit_price(zone.get(f"storage_{plan.get('storage_tier') or 'maxiops'}"))
    size = _int(plan.get("storage_size"))
    if storage is not None and size is not None:
        total += size * storage
    return total


def prices(
    zones: Iterable[Mapping[str, Any]], plans: Sequence[Mapping[str, Any]], known_zones: set[str]
) -> list[Price]:
    """Hourly EUR prices of ``plans`` in each zone of ``/price`` (UpCloud lists cents).

    A zone's ``server_plan_<name>`` price is used where there is one; otherwise
    the price is derived from ``server_core``, ``server_memory`` and the plan's
    storage tier.  Zones not in ``known_zones`` (when given) and plans that
    cannot be priced are left out, never a crash.
    """
    result = []
    for zone in zones:
        name = zone.get("name") if isinstance(zone, dict) else None
        if not isinstance(name, str) or (known_zones and name not in known_zones):
            continue
        for plan in plans:
            cents = _plan_cents(zone, plan)
            if cents is not None:
                result.append(
                    Price(str(plan["name"]), name, hourly=round(cents / 100, 6), currency="EUR")
                )
    return result


# -- OS templates --------------------------------------------------------------

_VERSION = re.compile(r"\d+(?:\.\d+)?")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def os_slug(title: str) -> str:
    """A template's short name: the first word of its title and its first version number.

    ``Ubuntu Server 24.04 LTS (Noble Numbat)`` is ``ubuntu-24.04``; ``Rocky Linux 9``
    is ``rocky-9``.
    """
    words = title.split()
    if not words:
        return ""
    version = _VERSION.search(title)
    return words[0].lower() + (f"-{version.group()}" if version else "")


def template_for(os_name: str, templates: list[dict[str, Any]]) -> dict[str, Any]:
    """The template ``os_name`` names: a slug (``debian-12``), a title or a template UUID.

    Several templates with one slug (a "minimal" variant): the shortest title wins.
    """
    wanted = os_name.strip().lower()
    if _UUID.match(wanted):
        found = [t for t in templates if str(t.get("uuid")).lower() == wanted]
    else:
        found = [
            t
            for t in templates
            if os_slug(str(t.get("title", ""))) == wanted
            or str(t.get("title", "")).lower() == wanted
        ]
    if found:
        return min(found, key=lambda t: len(str(t.get("title", ""))))
    offered = sorted({os_slug(str(t.get("title", ""))) for t in templates} - {""})
    raise ConfigError(
        f"UpCloud has no OS template {os_name!r}",
        problems=[f"unknown os {os_name!r}; UpCloud offers: {', '.join(offered)} @ --os"],
        hint="give --os as one of those, a template's full title, or a template UUID",
    )


# -- firewall ------------------------------------------------------------------

_COMPARED = (
    "direction",
    "action",
    "protocol",
    "family",
    "destination_port_start",
    "destination_port_end",
    "source_address_start",
    "source_address_end",
    "destination_address_start",
    "destination_address_end",
)


def _range(value: str, where: str) -> tuple[str, str, str]:
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ConfigError(
            f"invalid firewall address {value!r}",
            problems=[f"{value!r} is not an IP address or CIDR network @ {where}"],
            hint="write an address (10.0.0.5) or a network (10.0.0.0/8)",
        ) from None
    family = "IPv4" if network.version == 4 else "IPv6"  # noqa: PLR2004
    return family, str(network.network_address), str(network.broadcast_address)


def rule_body(rule: FirewallRule | Mapping[str, Any], index: int = 0) -> dict[str, str]:
    """A core firewall rule as the body of UpCloud's ``POST /server/{uuid}/firewall_rule``.

    ``any`` protocol is a rule without protocol; ``port`` (to ``port_end``)
    is the destination port range; ``source``/``destination`` (an address or a CIDR network) become
    UpCloud's address ranges and decide the family (IPv4 unless an IPv6
    address is given).
    """
    if not isinstance(rule, FirewallRule):
        rule = FirewallRule(**dict(rule))
    where = f"$.rules[{index}]"
    body = {"direction": rule.direction, "action": rule.action, "comment": "prov"}
    protocol = "" if rule.protocol == "any" else rule.protocol
    if rule.port is not None and protocol not in {"tcp", "udp"}:
        raise ConfigError(
            "invalid firewall rule for UpCloud",
            problems=[f"a port needs protocol tcp or udp, not {rule.protocol} @ {where}"],
            hint="drop the port (PORT *) or use tcp or udp",
        )
    families = set()
    for side in ("source", "destination"):
        value = getattr(rule, side)
        if value:
            family, start, end = _range(value, f"{where}.{side}")
            families.add(family)
            body[f"{side}_address_start"], body[f"{side}_address_end"] = start, end
    if len(families) > 1:
        raise ConfigError(
            "invalid firewall rule for UpCloud",
            problems=[f"source and destination mix IPv4 and IPv6 @ {where}"],
            hint="write one rule per address family",
        )
    if protocol:
        body["protocol"] = protocol
    if protocol or families:  # a rule without either covers both families
        body["family"] = families.pop() if families else "IPv4"
    if rule.ports is not None:
        first, last = rule.ports
        body["destination_port_start"], body["destination_port_end"] = str(first), str(last)
    return body


def same_rules(existing: Sequence[Mapping[str, Any]], wanted: Sequence[Mapping[str, str]]) -> bool:
    """Whether the server's rules already are ``wanted``, in order."""

    def key(rule: Mapping[str, Any]) -> tuple[str, ...]:
        return tuple("" if rule.get(name) is None else str(rule.get(name)) for name in _COMPARED)

    return [key(r) for r in existing] == [key(r) for r in wanted]
