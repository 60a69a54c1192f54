"""Operations described as data: what a job of ``prov serve`` is asked to do.

Each mutating operation the CLI has is a :class:`JobKind`: a name
("server.create"), the record its arguments arrive as (structured by the one
converter, so a bad request is refused with "message @ $.path" problems
before anything runs) and the operation it calls.  :meth:`JobKind.prepare`
checks the arguments without touching a plugin or the inventory;
:meth:`JobKind.run` does the work on an :class:`Engine` and returns the
same :class:`Report` the CLI prints.

A server never reads a file a request names: SSH keys arrive as the keys'
text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs
from attrs import Factory

from provisioning_core.convert import structure
from provisioning_core.errors import InputError
from provisioning_core.models import FirewallRule, ServerNetwork, ServerStorage
from provisioning_core.operations.engine import Engine
from provisioning_core.operations.inputs import (
    check_hostname,
    expand_hostnames,
    is_dsa_key,
    parse_rule,
    parse_tags,
    public_key_problem,
)
from provisioning_core.operations.report import Report

__all__ = [
    "JOB_KINDS",
    "AckRequest",
    "ClusterRequest",
    "ExtensionRequest",
    "FirewallRequest",
    "JobKind",
    "ServerActionRequest",
    "ServerCreateRequest",
    "TaskservRequest",
]

_KEY_PREFIXES = ("ssh-", "ecdsa-", "sk-")


@attrs.frozen(kw_only=True)
class ServerCreateRequest:
    """``prov server create``: what is not given comes from the configuration and provider."""

    hostname: str
    provider: str
    plan: str | None = None
    zone: str | None = None
    os: str | None = None
    #: public keys, as their text (``ssh-ed25519 AAAA... me@host``)
    ssh_keys: list[str] = Factory(list)
    tags: dict[str, str] = Factory(dict)
    #: rules as the CLI's ``--rule`` writes them: ``in,tcp,22,accept,10.0.0.0/8``
    firewall_rules: list[str] = Factory(list)
    storage: ServerStorage | None = None
    network: ServerNetwork | None = None
    count: int = 1
    wait: bool = False


@attrs.frozen(kw_only=True)
class ServerActionRequest:
    """``prov server start|stop|reboot|delete``."""

    servers: list[str]
    provider: str | None = None
    wait: bool = False


@attrs.frozen(kw_only=True)
class FirewallRequest:
    """``prov server firewall``: the rules replace every rule of the server."""

    server: str
    rules: list[str]
    provider: str | None = None


@attrs.frozen(kw_only=True)
class TaskservRequest:
    """``prov taskserv install|uninstall|configure|restart|upgrade NAME``."""

    name: str
    servers: list[str]
    provider: str | None = None
    version: str | None = None
    keep_data: bool = False
    force: bool = False
    wait: bool = False


@attrs.frozen(kw_only=True)
class ClusterRequest:
    """``prov cluster create|delete|scale|upgrade|restart-component NAME``."""

    name: str
    component: str | None = None
    replicas: int | None = None
    version: str | None = None
    force: bool = False
    wait: bool = False


@attrs.frozen(kw_only=True)
class ExtensionRequest:
    """The loading guide's body of ``reload`` (and ours of ``load``, ``unload``)."""

    #: provider, taskserv or cluster, in any case ("Taskserv" as the guide prints it)
    extension_type: str
    name: str
    #: ``load`` only: an exact version (default: the highest)
    version: str | None = None

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> ExtensionRequest:
        """The record, its type normalised; InputError/DataValidationError naming the field."""
        from packaging.version import InvalidVersion, Version

        from provisioning_core.models import ExtensionType

        r = structure(dict(data), cls, what="the request")
        kind = r.extension_type.strip().lower()
        problems = []
        if kind not in {k.value for k in ExtensionType}:
            problems.append(
                f"expected provider, taskserv or cluster, got {r.extension_type!r} "
                "@ $.extension_type"
            )
        if not r.name:
            problems.append("expected an extension's name @ $.name")
        if r.version is not None:
            try:
                Version(r.version)
            except InvalidVersion:
                problems.append(f"expected a version such as 1.28.0, got {r.version!r} @ $.version")
        if problems:
            raise InputError("invalid extension request", problems=problems)
        return attrs.evolve(r, extension_type=kind)


@attrs.frozen(kw_only=True)
class AckRequest:
    """``prov operations ack``: the interrupted operations to stop reporting."""

    ids: list[int] = Factory(list)
    #: every interrupted operation
    all: bool = False


def _rules(texts: list[str], field: str) -> list[FirewallRule]:
    problems: list[str] = []
    rules: list[FirewallRule] = []
    for i, text in enumerate(texts):
        try:
            rules.append(parse_rule(text, field=f"{field}[{i}]"))
        except InputError as exc:
            problems += exc.problems
    if problems:
        raise InputError("invalid firewall rules", problems=problems)
    return rules


def _keys(texts: list[str]) -> list[str]:
    problems = []
    for i, text in enumerate(texts):
        if not text.strip().startswith(_KEY_PREFIXES):
            problems.append(
                f"expected a public key's text (ssh-ed25519 AAAA...); the server reads no "
                f"files @ $.ssh_keys[{i}]"
            )
        elif "PRIVATE KEY" in text:
            problems.append(f"a private key was sent; send the public half @ $.ssh_keys[{i}]")
        elif is_dsa_key(text):
            problems.append(f"a DSA (ssh-dss) key is refused; use ed25519 @ $.ssh_keys[{i}]")
        elif problem := public_key_problem(text):
            problems.append(f"the text {problem} @ $.ssh_keys[{i}]")
    if problems:
        raise InputError("invalid SSH keys", problems=problems)
    return [t.strip() for t in texts]


def _non_empty(values: list[str], field: str) -> None:
    if not values:
        name = field.rsplit(".", 1)[-1]
        raise InputError(f"no {name} given", problems=[f"expected at least one @ {field}"])


def _prepare_firewall(r: FirewallRequest) -> None:
    _non_empty(r.rules, "$.rules")
    _rules(r.rules, "$.rules")


def _prepare_create(r: ServerCreateRequest) -> None:
    if r.count < 1:
        raise InputError(
            "count must be at least 1", problems=[f"expected at least 1, got {r.count} @ $.count"]
        )
    check_hostname(r.hostname, field="$.hostname")
    expand_hostnames(r.hostname, r.count, field="$.count")
    parse_tags([f"{k}={v}" for k, v in r.tags.items()], field="$.tags")
    _rules(r.firewall_rules, "$.firewall_rules")
    _keys(r.ssh_keys)


def _create(engine: Engine, r: ServerCreateRequest) -> Report:
    from provisioning_core.operations.servers import create_servers

    return create_servers(
        engine,
        r.hostname,
        provider=r.provider,
        plan=r.plan,
        zone=r.zone,
        os=r.os,
        ssh_keys=_keys(r.ssh_keys),
        tags=parse_tags([f"{k}={v}" for k, v in r.tags.items()], field="$.tags"),
        firewall_rules=_rules(r.firewall_rules, "$.firewall_rules"),
        storage=r.storage,
        network=r.network,
        count=r.count,
        wait=r.wait,
    )


def _server_action(action: str) -> Callable[[Engine, ServerActionRequest], Report]:
    def run(engine: Engine, r: ServerActionRequest) -> Report:
        from provisioning_core.operations.servers import act_on_servers

        return act_on_servers(engine, action, r.servers, provider=r.provider, wait=r.wait)

    return run


def _firewall(engine: Engine, r: FirewallRequest) -> Report:
    from provisioning_core.operations.servers import configure_firewall

    return configure_firewall(engine, r.server, _rules(r.rules, "$.rules"), provider=r.provider)


def _taskserv(action: str) -> Callable[[Engine, TaskservRequest], Report]:
    def run(engine: Engine, r: TaskservRequest) -> Report:
        from provisioning_core.operations.taskservs import run_taskserv

        return run_taskserv(
            engine,
            action,
            r.name,
            r.servers,
            provider=r.provider,
            version=r.version,
            keep_data=r.keep_data,
            force=r.force,
            wait=r.wait,
        )

    return run


def _cluster(action: str) -> Callable[[Engine, ClusterRequest], Report]:
    def run(engine: Engine, r: ClusterRequest) -> Report:
        from provisioning_core.operations.clusters import run_cluster

        return run_cluster(
            engine,
            action,
            r.name,
            component=r.component,
            replicas=r.replicas,
            version=r.version,
            force=r.force,
            wait=r.wait,
        )

    return run


def _prepare_cluster(action: str) -> Callable[[ClusterRequest], None]:
    def prepare(r: ClusterRequest) -> None:
        if r.replicas is not None and r.replicas < 0:
            raise InputError(
                "replicas cannot be negative",
                problems=[f"expected 0 or more, got {r.replicas} @ $.replicas"],
            )
        if action == "scale" and r.replicas is None:
            raise InputError("scale needs replicas", problems=["expected a number @ $.replicas"])
        if action == "upgrade" and r.version is None:
            raise InputError("upgrade needs a version", problems=["expected a version @ $.version"])
        if action == "restart_component" and r.component is None:
            raise InputError(
                "restart-component needs a component", problems=["expected a name @ $.component"]
            )

    return prepare


@attrs.frozen
class JobKind:
    """One kind of job: its name, its request record, its checks and its operation."""

    name: str
    request: type[Any]
    operation: Callable[[Engine, Any], Report]
    checks: Callable[[Any], None] = lambda _r: None
    #: what the job works on, in words (for listings)
    target: Callable[[Any], str] = lambda _r: ""
    #: the extension (kind, name) the request names, checked to be installed before the
    #: job is accepted; None when it names none (a cluster's name is its configuration's)
    needs: Callable[[Any], tuple[str, str] | None] = lambda _r: None

    def parse(self, data: Mapping[str, Any]) -> Any:
        """The request record, or :class:`DataValidationError` naming each bad field."""
        return structure(dict(data), self.request, what=f"the request of {self.name}")

    def prepare(self, data: Mapping[str, Any]) -> Any:
        """Parse and check the request without calling a plugin; raises what the CLI would."""
        request = self.parse(data)
        self.checks(request)
        return request

    def run(self, engine: Engine, request: Any) -> Report:
        """Do the work; the report is what ``prov ... -o json`` prints."""
        return self.operation(engine, request)


def _provider(r: Any) -> tuple[str, str] | None:
    return None if r.provider is None else ("provider", r.provider)


def _kinds() -> dict[str, JobKind]:
    kinds = [
        JobKind(
            "server.create",
            ServerCreateRequest,
            _create,
            _prepare_create,
            lambda r: r.hostname,
            _provider,
        ),
        JobKind(
            "server.firewall",
            FirewallRequest,
            _firewall,
            _prepare_firewall,
            lambda r: r.server,
            _provider,
        ),
    ]
    kinds += [
        JobKind(
            f"server.{action}",
            ServerActionRequest,
            _server_action(action),
            lambda r: _non_empty(r.servers, "$.servers"),
            lambda r: ", ".join(r.servers),
            _provider,
        )
        for action in ("start", "stop", "reboot", "delete")
    ]
    kinds += [
        JobKind(
            f"taskserv.{action}",
            TaskservRequest,
            _taskserv(action),
            lambda r: _non_empty(r.servers, "$.servers"),
            lambda r: f"{r.name} on {', '.join(r.servers)}",
            lambda r: ("taskserv", r.name),
        )
        for action in ("install", "uninstall", "configure", "restart", "upgrade")
    ]
    kinds += [
        JobKind(
            f"cluster.{action}",
            ClusterRequest,
            _cluster(action),
            _prepare_cluster(action),
            lambda r: r.name,
        )
        for action in ("create", "delete", "scale", "upgrade", "restart_component")
    ]
    return {k.name: k for k in kinds}


#: every kind of job, by name
JOB_KINDS: dict[str, JobKind] = _kinds()
