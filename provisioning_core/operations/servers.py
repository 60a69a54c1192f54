"""Server operations: create, act on, inspect, list and reconcile servers.

Every function takes an :class:`Engine`.  Input is checked first (hostname,
plan, zone, tags, rules) and nothing is called when it is wrong; mutating
work is recorded in the inventory before the provider is called, so a crash
leaves a record that says what was in flight.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
from attrs import Factory

from provisioning_core.convert import structure, unstructure
from provisioning_core.errors import (
    CapabilityNotSupported,
    ConfigError,
    DataValidationError,
    InputError,
    PluginTimeout,
    ProvisioningError,
    ServerNotFound,
    TransientError,
    UnknownServer,
)
from provisioning_core.models import (
    FirewallRule,
    Plan,
    Price,
    Server,
    ServerConfig,
    ServerNetwork,
    ServerStatus,
    ServerStorage,
    SshAccess,
    Zone,
)
from provisioning_core.operations.calls import CheckModeViolation
from provisioning_core.operations.engine import Engine, Provider
from provisioning_core.operations.inputs import check_choice, expand_hostnames, read_ssh_keys
from provisioning_core.operations.providers import default_plan, default_zone
from provisioning_core.operations.report import Report, TargetResult
from provisioning_core.operations.waiting import WaitCancelled
from provisioning_core.paths import prov_home

if TYPE_CHECKING:
    from provisioning_core.state import ServerRecord

R = TypeVar("R")

__all__ = [
    "Located",
    "ServerRow",
    "act_on_servers",
    "configure_firewall",
    "create_servers",
    "known_hostnames",
    "list_servers",
    "locate_server",
    "plans",
    "pricing",
    "server_info",
    "ssh_command",
    "zones",
]

# action -> (hook, what it is doing, the status that means done; None: gone)
_ACTIONS: dict[str, tuple[str, str, ServerStatus | None]] = {
    "delete": ("delete_server", "deleting", None),
    "start": ("start_server", "starting", ServerStatus.RUNNING),
    "stop": ("stop_server", "stopping", ServerStatus.STOPPED),
    "reboot": ("reboot_server", "rebooting", ServerStatus.RUNNING),
}


@attrs.frozen
class Located:
    """A server found by id or hostname: which provider has it and its id."""

    provider: str
    server_id: str
    hostname: str
    in_inventory: bool
    #: only an inventory record, of a creation interrupted before the provider answered
    stale: bool = False


@attrs.frozen
class ServerRow:
    """One line of ``prov server list``.

    ``where`` is "both" (the inventory and the provider agree it exists),
    "provider" (only the provider has it: not created by prov) or
    "inventory" (only the inventory has it); ``note`` says what to do.
    """

    provider: str
    id: str | None
    hostname: str
    status: str
    where: str
    plan: str | None = None
    zone: str | None = None
    ip_addresses: list[str] = Factory(list)
    tags: dict[str, str] = Factory(dict)
    note: str = ""


# -- create -----------------------------------------------------------------

_DEFAULT_OS = "ubuntu-22.04"  # ServerConfig's default os


def create_servers(
    engine: Engine,
    hostname: str,
    *,
    provider: str,
    plan: str | None = None,
    zone: str | None = None,
    os: str | None = None,
    ssh_keys: Sequence[str] = (),
    tags: dict[str, str] | None = None,
    firewall_rules: Sequence[FirewallRule] = (),
    storage: ServerStorage | Mapping[str, Any] | None = None,
    network: ServerNetwork | Mapping[str, Any] | None = None,
    count: int = 1,
    wait: bool = False,
) -> Report:
    """Create ``count`` servers named after ``hostname`` on ``provider``.

    Validates everything first: the hostnames, and the plan, zone and os
    against what the provider offers.  What is not given comes from
    ``[providers.<name>.defaults]``, then from the provider itself (its
    default zone and plan, or its only one).  Every server gets
    ``defaults.firewall_rules`` before ``firewall_rules``.  ``storage`` and
    ``network`` replace the defaults' when records, and are laid over them
    when mappings (``{"size": 50}`` keeps the default type).  In check mode
    returns the plan.
    """
    with engine.writing():
        hostnames = expand_hostnames(hostname, count)
        p = engine.provider(provider)
        defaults = p.settings.defaults
        configs = _server_configs(
            p,
            hostnames,
            plan=plan or defaults.plan,
            zone=zone or defaults.zone,
            os=os or defaults.os,
            # defaults may name .pub files, as --ssh-key may
            ssh_keys=list(ssh_keys)
            or read_ssh_keys(defaults.ssh_keys, field=f"$.providers.{p.name}.defaults.ssh_keys"),
            tags=tags or {},
            firewall_rules=[*defaults.firewall_rules, *firewall_rules],
            # where the rules came from, for the errors about them
            rules_field="--rule"
            if firewall_rules
            else f"$.providers.{p.name}.defaults.firewall_rules",
            storage=_over(ServerStorage, storage, defaults.storage, "storage"),
            network=_over(ServerNetwork, network, defaults.network, "network"),
        )
        _refuse_existing(engine, p.name, hostnames)
        _refuse_existing_at_provider(p, hostnames)
        if engine.check:
            return Report(
                "server.create", check=True, results=[_plan_create(p, c) for c in configs]
            )

        def create(config: ServerConfig) -> TargetResult:
            return _create_one(engine, p, config, wait=wait)

        return engine.run_each("server.create", configs, create, lambda c: c.hostname)


def _server_configs(
    p: Provider,
    hostnames: list[str],
    *,
    plan: str | None,
    zone: str | None,
    os: str | None,
    ssh_keys: list[str],
    tags: dict[str, str],
    firewall_rules: list[FirewallRule],
    storage: ServerStorage | None,
    network: ServerNetwork | None,
    rules_field: str = "--rule",
) -> list[ServerConfig]:
    problems: list[str] = []
    where = f"providers.{p.name}.defaults"
    plans = [x.name for x in p.call("get_plans")] if p.extension.implements("get_plans") else []
    plan = plan or default_plan(p, plans)
    if plan is None:
        problems.append(f"no plan given: pass --plan or set {where}.plan @ --plan")
    elif plans:
        problems.append(check_choice(plan, plans, what="plan", field="--plan") or "")
    zones = [z.name for z in p.call("get_zones")] if p.extension.implements("get_zones") else []
    zone = zone or default_zone(p, zones)
    if zone is None:
        problems.append(f"no zone given: pass --zone or set {where}.zone @ --zone")
    elif zones:
        problems.append(check_choice(zone, zones, what="zone", field="--zone") or "")
    supported_os = p.info.supported_os if p.info is not None else []
    if supported_os:  # the usual default too: it may be an image the provider lacks
        wanted = os or _DEFAULT_OS
        problems.append(check_choice(wanted, supported_os, what="os", field="--os") or "")
    problems = [x for x in problems if x]
    if firewall_rules and not p.extension.implements("configure_firewall"):
        problems.append(f"provider {p.name!r} does not support firewall rules @ {rules_field}")
    elif firewall_rules and not p.settings.features.firewall:
        problems.append(
            f"firewall rules given but providers.{p.name}.features.firewall is false "
            f"@ {rules_field}"
        )
    if problems:
        raise InputError(
            f"cannot create servers on provider {p.name!r}",
            problems=problems,
            hint=f"prov server plans --provider {p.name} and prov server zones --provider "
            f"{p.name} list what it offers",
        )
    assert plan is not None
    assert zone is not None
    base: dict[str, Any] = {
        "plan": plan,
        "zone": zone,
        "ssh_keys": ssh_keys,
        "tags": tags,
        "storage": storage,
        "network": network,
    }
    if os:
        base["os"] = os
    return [
        ServerConfig(hostname=h, firewall_rules=list(firewall_rules), **base) for h in hostnames
    ]


def _over(
    cls: type[R], given: R | Mapping[str, Any] | None, default: R | None, what: str
) -> R | None:
    """``given`` over ``default``: a record replaces it, a mapping's keys are laid over it."""
    if given is None:
        return default
    if not isinstance(given, Mapping):
        return given
    base = unstructure(default) if default is not None else {}
    try:
        return structure({**base, **given}, cls, what=f"the server's {what}")
    except DataValidationError as exc:
        problems = [p.replace(" @ $", f" @ {what}", 1) for p in exc.problems]
        raise InputError(
            f"invalid {what} of the new servers",
            problems=problems,
            hint=f"see prov server create --help for the {what} options",
        ) from None


def _refuse_existing(engine: Engine, provider: str, hostnames: list[str]) -> None:
    if not engine.inventory_exists():
        return
    taken = [
        r
        for h in hostnames
        for r in engine.inventory.find_servers(h, provider)
        if r.hostname == h and not r.deleted
    ]
    if taken:
        raise InputError(
            f"servers already exist on provider {provider!r}",
            problems=[
                f"{r.hostname} exists (id {r.server_id or 'unknown yet'}, {r.status}) @ HOSTNAME"
                for r in taken
            ],
            hint="choose another hostname, or delete the server first with prov server delete",
        )


def _refuse_existing_at_provider(p: Provider, hostnames: list[str]) -> None:
    wanted = set(hostnames)
    taken = [s for s in p.call("list_servers") if s.hostname in wanted]
    if taken:
        raise InputError(
            f"servers with these hostnames already exist on provider {p.name!r}",
            problems=[
                f"{s.hostname} exists (id {s.id}, {s.status.value}) @ HOSTNAME" for s in taken
            ],
            hint=f"choose another hostname; prov server list --provider {p.name} shows them",
        )


def _plan_create(p: Provider, config: ServerConfig) -> TargetResult:
    summary = (
        f"create server {config.hostname} on {p.name}: plan {config.plan}, zone {config.zone}, "
        f"os {config.os}"
    )
    actions = [summary]
    if config.firewall_rules:
        actions.append(f"apply {len(config.firewall_rules)} firewall rules")
    data = unstructure(config)
    if p.extension.accepts("create_server", "check"):
        # the plugin can say more (or refuse the config) without changing anything
        planned: Server = p.call("create_server", config=config, check=True)
        data["planned"] = unstructure(planned)
    return TargetResult(config.hostname, "planned", status="absent", actions=actions, data=data)


def _create_one(engine: Engine, p: Provider, config: ServerConfig, *, wait: bool) -> TargetResult:
    inventory = engine.inventory
    details = {"plan": config.plan, "zone": config.zone, "os": config.os, "tags": config.tags}
    with engine.recording("server.create", config.hostname, provider=p.name, details=details) as op:
        # recorded before the call, so a crash leaves a record of what was in flight
        inventory.upsert_server(
            p.name,
            config.hostname,
            status=ServerStatus.CREATING.value,
            plan=config.plan,
            zone=config.zone,
            tags=config.tags,
            operation_id=op.id,
        )
        engine.reporter(config.hostname, f"creating on {p.name}")
        try:
            server: Server = p.call("create_server", config=config, check=False)
        except PluginTimeout as exc:  # it may exist: keep the record for reconciling
            raise ProvisioningError(
                f"{exc.message}; the server may have been created",
                hint=f"prov server list --provider {p.name} finds and records it if it exists",
            ) from None
        except BaseException as exc:
            if _nothing_made(exc):
                inventory.forget(p.name, None, config.hostname)
            else:  # the plugin may have made it before failing: keep the record to reconcile
                inventory.upsert_server(
                    p.name, config.hostname, status="unknown", operation_id=op.id
                )
            raise
        _record(engine, p.name, server, config, op.id)  # the record holds the id from here on
        actions = [f"created {server.hostname} ({server.id}) on {p.name}"]
        if wait:
            try:
                server = _wait_status(engine, p, server, ServerStatus.RUNNING, "creating")
            except WaitCancelled as exc:
                # created, but not seen running: the truth is that the wait was cut short
                op.finish("interrupted", error=exc.message, server_id=server.id, waited=False)
                return TargetResult.interrupted(
                    config.hostname, exc, actions=actions, data=unstructure(server)
                )
            except ProvisioningError as exc:
                op.finish("failed", error=exc.message, server_id=server.id)
                # it exists: say which one, so it can be inspected or deleted
                return TargetResult.failure(
                    config.hostname, exc, actions=actions, data=unstructure(server)
                )
            actions.append(f"{server.hostname} is running")
        op.finish("succeeded", server_id=server.id, actions=actions)
    return TargetResult(
        config.hostname, "done", server.status.value, actions, data=unstructure(server)
    )


def _nothing_made(error: BaseException) -> bool:
    """Whether a failed create proves the provider made nothing (so no record is kept)."""
    if isinstance(error, TransientError):  # refused before any work, retried to the end
        return error.status is None or error.status == _TOO_MANY_REQUESTS
    # a plugin's ConfigError (InputError is one) refuses bad settings or input
    return isinstance(error, (ConfigError, CapabilityNotSupported, CheckModeViolation))


_TOO_MANY_REQUESTS = 429


def _record(engine: Engine, provider: str, server: Server, config: ServerConfig, op: int) -> None:
    engine.inventory.upsert_server(
        provider,
        config.hostname,
        server_id=server.id,
        status=server.status.value,
        plan=server.plan or config.plan,
        zone=server.zone or config.zone,
        ip_addresses=server.ip_addresses,
        tags=server.tags or config.tags,
        operation_id=op,
    )


def _wait_status(
    engine: Engine, p: Provider, server: Server, target: ServerStatus | None, doing: str
) -> Server:
    """Poll ``server`` until it has ``target`` status (None: until it is gone)."""

    def poll() -> Server | None:
        try:
            found: Server = p.call("get_server_info", server_id=server.id)
        except ServerNotFound:
            return None
        if engine.has_inventory:
            engine.inventory.set_status(
                p.name, server.id, found.status.value, ip_addresses=found.ip_addresses
            )
        return found

    def failed(s: Server | None) -> str | None:
        if s is not None and s.status is ServerStatus.ERROR:
            return f"the provider reports status error while {doing}"
        if s is None and target is not None:
            return "the server disappeared"
        return None

    result = engine.wait(
        server.hostname,
        poll,
        (lambda s: s is None)
        if target is None
        else (lambda s: s is not None and s.status is target),
        what=f"{doing} {server.hostname} ({server.id}) on {p.name}",
        describe=lambda s: "gone" if s is None else s.status.value,
        failed=failed,
    )
    return result if result is not None else server


# -- finding a server -----------------------------------------------------------


def locate_server(
    engine: Engine, ref: str, provider: str | None = None, *, stale: bool = False
) -> Located:
    """Find ``ref`` (an id or a hostname): in the inventory first, then at ``provider``.

    Raises :class:`InputError` (exit 2) when it matches nothing or more than
    one server, saying how to tell them apart.  With ``stale``, the record of
    a creation interrupted before the provider answered, which the provider
    does not have, is returned marked ``stale`` (to be removed).
    """
    records = []
    if engine.inventory_exists():
        records = [r for r in engine.inventory.find_servers(ref, provider) if not r.deleted]
    known = [r for r in records if r.server_id is not None]
    if len(known) > 1:
        raise InputError(
            f"{ref!r} matches several servers",
            problems=[f"{r.hostname} (id {r.server_id}) on {r.provider} @ SERVER" for r in known],
            hint="give the server's id, or --provider to choose the provider",
        )
    if known:
        r = known[0]
        assert r.server_id is not None
        return Located(r.provider, r.server_id, r.hostname, in_inventory=True)
    if records and provider is None:
        provider = records[0].provider  # creation in flight or interrupted: ask the provider
    if provider is None:
        raise UnknownServer(
            f"no server {ref!r} in the inventory",
            hint="pass --provider P for a server prov did not create; "
            "prov server list shows the servers prov knows",
        )
    p = engine.provider(provider)
    matches = [s for s in p.call("list_servers") if ref in (s.id, s.hostname)]
    if len(matches) > 1:
        raise InputError(
            f"{ref!r} matches several servers on provider {provider!r}",
            problems=[f"{s.hostname} (id {s.id}) @ SERVER" for s in matches],
            hint="give the server's id",
        )
    pending = [r for r in records if r.provider == provider]
    if not matches:
        if stale and pending:
            _refuse_in_flight(engine, pending[0])
            return Located(provider, "", pending[0].hostname, in_inventory=True, stale=True)
        raise UnknownServer(
            f"no server {ref!r} on provider {provider!r} (neither an id nor a hostname)",
            hint=f"prov server list --provider {provider} shows its servers",
        )
    s = matches[0]
    if pending and not engine.check:  # its creation was interrupted: adopt it now
        engine.inventory.upsert_server(
            provider,
            s.hostname,
            server_id=s.id,
            status=s.status.value,
            operation_id=pending[0].operation_id,
        )
    return Located(provider, s.id, s.hostname, in_inventory=bool(pending))


def _running_operations(engine: Engine) -> set[int]:
    """Ids of operations a live run is doing now (dead runs were marked when the engine began)."""
    if not engine.inventory_exists():
        return set()
    return {op.id for op in engine.inventory.operations(status="running", limit=1000)}


def _refuse_in_flight(engine: Engine, record: Any) -> None:
    if record.operation_id in _running_operations(engine):
        raise InputError(
            f"{record.hostname} is being created by another prov run "
            f"(operation {record.operation_id})",
            hint="wait for that run to finish, then try again",
        )


# -- acting on servers -------------------------------------------------------------


def act_on_servers(
    engine: Engine,
    action: str,
    refs: Sequence[str],
    *,
    provider: str | None = None,
    wait: bool = False,
) -> Report:
    """``delete``, ``start``, ``stop`` or ``reboot`` each server in ``refs``.

    Deleting a server the provider no longer has marks its record deleted;
    deleting a record whose creation was interrupted before the provider
    answered (and the provider has no such server) removes the record.
    """
    with engine.writing():
        if action not in _ACTIONS:
            raise ValueError(f"unknown server action {action!r}; there are: {', '.join(_ACTIONS)}")
        hook = _ACTIONS[action][0]
        # every server found and every provider able to do it, before acting on any
        located = [locate_server(engine, ref, provider, stale=action == "delete") for ref in refs]
        for loc in located:
            engine.provider(loc.provider).extension.require(hook)
        if engine.check:
            return Report(
                f"server.{action}",
                check=True,
                results=[
                    TargetResult(
                        loc.hostname,
                        "planned",
                        actions=[
                            f"forget the record of {loc.hostname}: its creation was interrupted"
                            if loc.stale
                            else f"{action} server {loc.hostname} ({loc.server_id}) "
                            f"on {loc.provider}",
                            *(_going_with(engine, loc) if action == "delete" else []),
                        ],
                    )
                    for loc in located
                ],
            )
        return engine.run_each(
            f"server.{action}",
            located,
            lambda loc: _act_one(engine, action, loc, wait=wait),
            lambda loc: loc.hostname,
        )


def _going_with(engine: Engine, loc: Located) -> list[str]:
    """What a delete takes with it, as the plan must say: the taskservs installed there."""
    from provisioning_core.operations.taskservs import installed_taskservs

    gone = [
        f"{row['taskserv']} {row['version']}" if row["version"] else row["taskserv"]
        for row in installed_taskservs(engine, server=loc.hostname)
    ]
    return [f"and with it the taskservs installed there: {', '.join(gone)}"] if gone else []


def _act_one(engine: Engine, action: str, loc: Located, *, wait: bool) -> TargetResult:
    hook, doing, target = _ACTIONS[action]
    inventory = engine.inventory
    if loc.stale:
        inventory.forget(loc.provider, None, loc.hostname)
        return TargetResult(
            loc.hostname,
            "done",
            "deleted",
            [
                (
                    f"removed the record of {loc.hostname}: its creation was interrupted and "
                    f"{loc.provider} has no such server"
                )
            ],
        )
    p = engine.provider(loc.provider)
    with engine.recording(
        f"server.{action}",
        loc.hostname,
        provider=loc.provider,
        details={"server_id": loc.server_id},
    ) as op:
        engine.reporter(loc.hostname, doing)
        try:
            p.call(hook, server_id=loc.server_id)
        except ServerNotFound:
            if action != "delete":
                raise
            # already gone (deleted outside prov): what was asked for is true
            inventory.mark_deleted(loc.provider, loc.server_id)
            op.finish("succeeded", already_gone=True)
            return TargetResult(
                loc.hostname, "unchanged", "deleted", [f"{loc.provider} no longer has it"]
            )
        if loc.in_inventory:
            inventory.set_status(loc.provider, loc.server_id, doing)
        actions = [f"{action} requested for {loc.hostname} ({loc.server_id})"]
        status = doing
        if wait:
            placeholder = Server(loc.server_id, loc.hostname, doing)
            try:
                final = _wait_status(engine, p, placeholder, target, doing)
            except WaitCancelled as exc:
                op.finish("interrupted", error=exc.message, waited=False)
                return TargetResult.interrupted(loc.hostname, exc, actions=actions)
            except ProvisioningError as exc:
                op.finish("failed", error=exc.message)
                return TargetResult.failure(loc.hostname, exc, actions=actions)
            status = "deleted" if target is None else final.status.value
            actions.append(f"{loc.hostname} is {status}")
        if action == "delete" and loc.in_inventory:
            # the provider accepted the deletion; the record stays, marked deleted
            inventory.mark_deleted(loc.provider, loc.server_id)
    return TargetResult(loc.hostname, "done", status, actions)


def configure_firewall(
    engine: Engine, ref: str, rules: Sequence[FirewallRule], *, provider: str | None = None
) -> Report:
    """Replace the firewall rules of server ``ref`` with ``rules``."""
    with engine.writing():
        loc = locate_server(engine, ref, provider)
        p = engine.provider(loc.provider)
        if not p.settings.features.firewall:
            raise InputError(
                f"firewall rules are turned off for provider {p.name!r}",
                problems=[f"features.firewall is false @ $.providers.{p.name}.features.firewall"],
                hint=f"set providers.{p.name}.features.firewall = true to allow them",
            )
        p.extension.require("configure_firewall")
        actions = [
            f"{r.direction} {r.protocol} {r.port or '*'} {r.action}"
            + (f" from {r.source}" if r.source else "")
            for r in rules
        ]
        if engine.check:
            return Report(
                "server.firewall",
                check=True,
                results=[
                    TargetResult(
                        loc.hostname, "planned", actions=[f"set {len(rules)} rules", *actions]
                    )
                ],
            )

        def one(target: Located) -> TargetResult:
            with engine.recording(
                "server.firewall",
                target.hostname,
                provider=target.provider,
                details={"server_id": target.server_id, "rules": [unstructure(r) for r in rules]},
            ):
                p.call("configure_firewall", server_id=target.server_id, rules=list(rules))
            return TargetResult(target.hostname, "done", actions=actions)

        return engine.run_each("server.firewall", [loc], one, lambda x: x.hostname)


# -- reading ------------------------------------------------------------------------


def server_info(engine: Engine, ref: str, *, provider: str | None = None) -> Server:
    """The provider's current view of server ``ref``; refreshes the inventory's status."""
    loc = locate_server(engine, ref, provider)
    p = engine.provider(loc.provider)
    try:
        server: Server = p.call("get_server_info", server_id=loc.server_id)
    except ServerNotFound:
        raise ProvisioningError(
            f"server {loc.hostname} ({loc.server_id}) is in the inventory but provider "
            f"{loc.provider!r} no longer has it",
            hint=f"it was deleted outside prov; prov server list --provider {loc.provider} "
            "flags it",
        ) from None
    if loc.in_inventory and not engine.check:
        engine.inventory.set_status(
            loc.provider, server.id, server.status.value, ip_addresses=server.ip_addresses
        )
    return server


def list_servers(
    engine: Engine, *, provider: str | None = None, include_deleted: bool = False
) -> tuple[list[ServerRow], list[str]]:
    """Servers from the inventory and the providers, reconciled; and warnings.

    ``include_deleted`` adds the servers prov deleted, which the inventory keeps as
    history (status and note ``deleted``).

    With ``provider``, that provider's servers; without, every provider the
    inventory has servers on.  A provider that cannot be reached still shows
    its inventory records, with a warning.  Outside check mode the inventory
    learns each server's status, and adopts a server whose creation was
    interrupted before the provider answered.
    """
    records = engine.inventory.servers(provider) if engine.inventory_exists() else []
    names = [provider] if provider else sorted({r.provider for r in records})
    rows: list[ServerRow] = []
    warnings: list[str] = []
    for name in names:
        mine = [r for r in records if r.provider == name]
        try:
            remote: list[Server] = engine.provider(name).call("list_servers")
        except ProvisioningError as exc:
            if provider:  # asked for this one provider: its failure is the command's
                raise
            warnings.append(f"provider {name!r}: {exc.message}; showing the inventory only")
            rows.extend(_inventory_row(r, "provider unavailable") for r in mine)
            continue
        rows.extend(_reconcile(engine, name, mine, remote))
    if include_deleted and engine.inventory_exists():
        rows.extend(
            attrs.evolve(_inventory_row(r, "deleted"), status="deleted")
            for r in engine.inventory.servers(provider, include_deleted=True)
            if r.deleted
        )
    return rows, warnings


def _reconcile_note(r: Any, running: set[int]) -> str:
    if r.server_id is None and r.operation_id in running:
        return "being created by another prov run"
    return _missing_note(r.server_id, r.status)


def _reconcile(
    engine: Engine, provider: str, records: list[Any], remote: list[Server]
) -> list[ServerRow]:
    writes = not engine.check and engine.has_inventory
    running = _running_operations(engine)
    by_id = {s.id: s for s in remote}
    seen: set[str] = set()
    rows: list[ServerRow] = []
    for r in records:
        server = by_id.get(r.server_id) if r.server_id else None
        if server is None and r.server_id is None:
            # created while the tool crashed before recording the id: adopt by hostname
            candidates = [s for s in remote if s.hostname == r.hostname and s.id not in seen]
            if len(candidates) == 1:
                server = candidates[0]
                if writes:
                    engine.inventory.upsert_server(
                        provider,
                        r.hostname,
                        server_id=server.id,
                        status=server.status.value,
                        plan=server.plan,
                        zone=server.zone,
                        ip_addresses=server.ip_addresses,
                        tags=server.tags,
                        operation_id=r.operation_id,
                    )
        if server is None:
            rows.append(_inventory_row(r, _reconcile_note(r, running)))
            if writes and r.server_id and r.status == "deleting":
                engine.inventory.mark_deleted(provider, r.server_id)
            continue
        seen.add(server.id)
        if writes and server.status.value != r.status:
            engine.inventory.set_status(
                provider, server.id, server.status.value, ip_addresses=server.ip_addresses
            )
        rows.append(_row(provider, server, "both"))
    rows.extend(
        _row(provider, s, "provider", note="not created by prov (or its record was removed)")
        for s in remote
        if s.id not in seen
    )
    return rows


def _inventory_row(r: ServerRecord, note: str) -> ServerRow:
    """A row for a server only the inventory knows."""
    return ServerRow(
        r.provider,
        r.server_id,
        r.hostname,
        r.status,
        "inventory",
        r.plan,
        r.zone,
        list(r.ip_addresses),
        dict(r.tags),
        note=note,
    )


def _missing_note(server_id: str | None, status: str) -> str:
    if server_id is None:
        return "creation was interrupted before the provider answered, and it has no such server"
    if status == "deleting":
        return "deleted"
    return "the provider no longer has it: deleted outside prov?"


def _row(provider: str, s: Server, where: str, note: str = "") -> ServerRow:
    return ServerRow(
        provider,
        s.id,
        s.hostname,
        s.status.value,
        where,
        s.plan,
        s.zone,
        list(s.ip_addresses),
        dict(s.tags),
        note,
    )


def known_hostnames(prefix: str = "") -> list[str]:
    """Hostnames of the servers in the inventory starting with ``prefix`` (for completion)."""
    from provisioning_core.paths import inventory_path
    from provisioning_core.state import Inventory

    if not inventory_path().exists():
        return []
    with Inventory() as inventory:
        return sorted({r.hostname for r in inventory.servers() if r.hostname.startswith(prefix)})


def plans(engine: Engine, provider: str) -> list[Plan]:
    """The plans ``provider`` offers."""
    result: list[Plan] = engine.provider(provider).call("get_plans")
    return result


def zones(engine: Engine, provider: str) -> list[Zone]:
    """The zones ``provider`` offers."""
    result: list[Zone] = engine.provider(provider).call("get_zones")
    return result


def pricing(engine: Engine, provider: str) -> list[Price]:
    """What ``provider``'s plans cost."""
    result: list[Price] = engine.provider(provider).call("get_pricing")
    return result


def _ssh_access(engine: Engine, ref: str, provider: str | None) -> tuple[Located, SshAccess]:
    loc = locate_server(engine, ref, provider)
    access: SshAccess = engine.provider(loc.provider).call(
        "get_ssh_access", server_id=loc.server_id
    )
    return loc, access


def run_over_ssh(
    engine: Engine, ref: str, command: Sequence[str], *, provider: str | None = None
) -> tuple[int, bytes, bytes]:
    """Run ``command`` on server ``ref`` with the core's own SSH client (no ``ssh`` needed).

    Returns the exit status, stdout and stderr.
    """
    import shlex

    from provisioning_core.runtime.transport import SshTransport

    _, access = _ssh_access(engine, ref, provider)
    transport = SshTransport(access)
    try:
        result = transport.run(shlex.join(command))
    finally:
        transport.close()
    return result.exit_status, result.stdout, result.stderr


def _known_hosts_file(loc: Located, access: SshAccess) -> Path:
    """A known_hosts file holding just the key the provider gave for this server."""
    assert access.host_key is not None
    fields = access.host_key.split()
    if len(fields) < 2 or any(c in access.host_key for c in "\n\r"):  # noqa: PLR2004
        raise ProvisioningError(
            f"provider {loc.provider!r} gave an unusable SSH host key for {loc.hostname}",
            hint="report it to the provider plugin's author",
        )
    path = prov_home() / "ssh" / loc.provider / f"{_safe(loc.server_id)}.known_hosts"
    path.parent.mkdir(parents=True, exist_ok=True)
    line = f"[{access.host}]:{access.port} {fields[0]} {fields[1]}\n"
    if not path.is_file() or path.read_text(encoding="utf-8") != line:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(line, encoding="utf-8")
        tmp.replace(path)
    return path


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def ssh_command(
    engine: Engine, ref: str, command: Sequence[str] = (), *, provider: str | None = None
) -> list[str]:
    """The ``ssh`` command line that reaches server ``ref`` and runs ``command``."""
    loc, access = _ssh_access(engine, ref, provider)
    for value, what in ((access.host, "host"), (access.user, "user")):
        if not value or value.startswith("-") or any(c.isspace() for c in value):
            # ssh would read it as an option: never let a plugin smuggle one in
            raise ProvisioningError(
                f"provider {loc.provider!r} gave an unusable SSH {what} {value!r} for "
                f"{loc.hostname}",
                hint="report it to the provider plugin's author",
            )
    argv = ["ssh", "-p", str(access.port)]
    if access.key_path:
        argv += ["-i", access.key_path, "-o", "IdentitiesOnly=yes"]
    if access.host_key:
        # the provider vouches for the server's key: trust exactly that, never ask
        known = _known_hosts_file(loc, access)
        argv += ["-o", f"UserKnownHostsFile={known}", "-o", "StrictHostKeyChecking=yes"]
    argv.append(f"{access.user}@{access.host}")
    if command:
        argv += ["--", *command]
    return argv
