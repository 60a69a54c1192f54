"""Cluster operations: dispatch to the cluster plugin named by ``[clusters.<name>]``.

A cluster's configuration is the ``[clusters.<name>]`` table; its ``type``
key names the cluster plugin (default: the cluster's own name) and the rest is
structured into a :class:`ClusterConfig`.  An action the plugin implements
itself is its own; one it leaves out is done by the core's generic engine
(:mod:`provisioning_core.operations.deployment`) from the plugin's components.
"""

from __future__ import annotations

from typing import Any

import attrs

from provisioning_core.convert import structure, unstructure
from provisioning_core.errors import (
    ExtensionNotFound,
    InputError,
    ProvisioningError,
    UnknownCluster,
)
from provisioning_core.extensions import Extension
from provisioning_core.graph import dependency_waves
from provisioning_core.models import (
    ClusterConfig,
    ClusterInfo,
    ClusterStatus,
    Component,
    ComponentStatus,
    ExtensionType,
    OperationResult,
)
from provisioning_core.operations.deployment import Deployment
from provisioning_core.operations.engine import Engine
from provisioning_core.operations.report import Report, TargetResult, changes_of
from provisioning_core.operations.requirements import check_requirements
from provisioning_core.operations.waiting import WaitCancelled

__all__ = [
    "ACTIONS",
    "READY",
    "cluster_config",
    "cluster_status",
    "component_status",
    "components",
    "list_clusters",
    "run_cluster",
]

ACTIONS = ("create", "delete", "scale", "upgrade", "restart_component")
#: statuses ``--wait`` accepts as done (after delete: ``GONE``); ``FAILED`` stops it
READY = frozenset({"running", "ready", "healthy"})
GONE = frozenset({"absent", "deleted"})
FAILED = frozenset({"error", "failed"})


def cluster_config(engine: Engine, name: str) -> tuple[Extension, ClusterConfig]:
    """The cluster plugin and the :class:`ClusterConfig` of cluster ``name``."""
    table = dict(engine.config.cluster_settings(name))
    plugin = table.pop("type", name)
    if not isinstance(plugin, str):
        raise InputError(
            f"invalid cluster type in [clusters.{name}]",
            problems=[
                f"expected a plugin name, got {type(plugin).__name__} @ $.clusters.{name}.type"
            ],
        )
    given = table.get("name", name)
    if given != name:
        # the seed's ClusterConfig names itself; the table's name is the cluster's name
        raise InputError(
            f"[clusters.{name}] names another cluster",
            problems=[f"name {given!r} is not the table's name {name!r} @ $.clusters.{name}.name"],
            hint=f"write name = {name!r} (or leave it out), or rename the table [clusters.{given}]",
        )
    config = structure({**table, "name": name}, ClusterConfig, what=f"[clusters.{name}]")
    if not engine.config.cluster_settings(name):  # not configured: NAME must be a plugin's
        try:
            return engine.extension(ExtensionType.CLUSTER, plugin), config
        except ExtensionNotFound:
            raise UnknownCluster(
                f"cluster {name!r} is not configured, and no cluster plugin is named so",
                hint=f'add [clusters.{name}] with type = "<plugin>" to provisioning.toml; '
                "prov cluster list shows the configured clusters, prov plugin list --kind "
                "cluster the installed plugins",
            ) from None
    return engine.extension(ExtensionType.CLUSTER, plugin), config


def run_cluster(
    engine: Engine,
    action: str,
    name: str,
    *,
    component: str | None = None,
    replicas: int | None = None,
    version: str | None = None,
    wait: bool = False,
    force: bool = False,
) -> Report:
    """Run ``action`` (create, delete, scale, upgrade, restart_component) on cluster ``name``.

    ``scale`` without ``component`` scales every component (the seed's
    ``scale(replicas)``); ``delete`` with ``force`` goes on past a component
    that cannot be removed and reports what was left (``details["left"]``).
    Before ``create`` (in check mode too) the cluster's resource requirements
    are checked against its servers' plans (``details["requirements_check"]``).
    """
    with engine.writing():
        if action not in ACTIONS:
            raise ValueError(f"unknown cluster action {action!r}")
        ext, config = cluster_config(engine, name)
        details: dict[str, Any] = {}
        if action == "create":
            checked = check_requirements(engine, ext, config)
            if checked["required"] is not None:
                details["requirements_check"] = checked
        if not ext.implements(action):
            deployment = _deployment(engine, ext, config, action)
            _hook_arguments(ext, config, action, component, replicas, version)
            report = _generic(engine, deployment, action, component, replicas, version, force)
            return attrs.evolve(report, details={**details, **report.details})
        kwargs = _hook_arguments(ext, config, action, component, replicas, version)
        if action == "delete" and ext.accepts("delete", "force"):
            kwargs["force"] = force
        if action == "scale" and component is None and ext.accepts("scale", "component"):
            # a plugin written when scale always named its component gets each one
            return _scale_each(engine, ext, config, kwargs, wait=wait, details=details)
        report = _by_plugin(engine, ext, config, action, kwargs, wait=wait, details=details)
        if force and "force" not in kwargs:
            warning = f"the {ext.name} plugin's delete takes no force; it ran without it"
            report = attrs.evolve(report, warnings=[*report.warnings, warning])
        return report


def _scale_each(
    engine: Engine,
    ext: Extension,
    config: ClusterConfig,
    kwargs: dict[str, Any],
    *,
    wait: bool,
    details: dict[str, Any],
) -> Report:
    """The seed's ``scale(replicas)`` by a plugin's ``scale``: one call per enabled component."""
    names = [c.name for c in _components(ext, config) if c.enabled]
    reports = [
        _by_plugin(
            engine, ext, config, "scale", {**kwargs, "component": n}, wait=wait, details=details
        )
        for n in names
    ]
    return Report(
        "cluster.scale",
        check=engine.check,
        results=[r for report in reports for r in report.results],
        warnings=[w for report in reports for w in report.warnings],
        interrupted=any(report.interrupted for report in reports),
        details=details,
    )


def _by_plugin(
    engine: Engine,
    ext: Extension,
    config: ClusterConfig,
    action: str,
    kwargs: dict[str, Any],
    *,
    wait: bool,
    details: dict[str, Any],
) -> Report:
    """``action`` by the plugin's own hook; ``details`` gains the seed's ``endpoints``."""
    name = config.name
    operation = f"cluster.{action}"
    if engine.check:
        return Report(
            operation, check=True, results=[_plan(ext, action, config, kwargs)], details=details
        )

    def one(_: str) -> TargetResult:
        with engine.recording(
            operation,
            name,
            provider=config.provider,
            details={
                "plugin": ext.name,
                "component": kwargs.get("component"),
                "replicas": kwargs.get("replicas"),
                "version": kwargs.get("version"),
            },
        ) as op:
            engine.reporter(name, action.replace("_", " "))
            result: OperationResult = ext.call(action, check=False, **kwargs)
            if isinstance(result.details.get("endpoints"), dict):
                details["endpoints"] = result.details["endpoints"]
            status = None
            if wait and ext.implements("status"):
                try:
                    status = _wait_cluster(engine, ext, config, gone=action == "delete").status
                except WaitCancelled as exc:
                    op.finish("interrupted", error=exc.message, waited=False)
                    return TargetResult.interrupted(name, exc, actions=list(result.actions))
                except ProvisioningError as exc:
                    op.finish("failed", error=exc.message)
                    return TargetResult.failure(name, exc, actions=list(result.actions))
            op.finish("succeeded", changed=result.changed, actions=list(result.actions))
        return TargetResult(
            name,
            "done" if result.changed else "unchanged",
            status,
            list(result.actions) or ([result.message] if result.message else []),
            data=changes_of(result),
        )

    report = engine.run_each(operation, [name], one, lambda n: n)
    return attrs.evolve(report, details=details)


def _deployment(engine: Engine, ext: Extension, config: ClusterConfig, hook: str) -> Deployment:
    """The generic engine for a hook the plugin leaves out; it needs the components."""
    parts = _components(ext, config)
    if not parts:
        ext.require(hook)  # neither the hook nor components: "does not support ..."
    return Deployment(engine, ext, config, parts)


def _generic(
    engine: Engine,
    deployment: Deployment,
    action: str,
    component: str | None,
    replicas: int | None,
    version: str | None,
    force: bool,
) -> Report:
    config = deployment.config
    if engine.check:
        return _run_generic(deployment, action, component, replicas, version, force)
    with engine.recording(
        f"cluster.{action}",
        config.name,
        provider=config.provider,
        details={
            "plugin": deployment.plugin.name,
            "engine": "core",
            "component": component,
            "replicas": replicas,
            "version": version,
            "force": force,
        },
    ) as op:
        engine.reporter(config.name, action.replace("_", " "))
        report = _run_generic(deployment, action, component, replicas, version, force)
        failed = [r.target for r in report.results if r.outcome == "failed"]
        if report.interrupted:
            op.finish("interrupted")
        elif failed:
            op.finish("failed", error=f"failed: {', '.join(failed)}")
    return report


def _run_generic(
    deployment: Deployment,
    action: str,
    component: str | None,
    replicas: int | None,
    version: str | None,
    force: bool,
) -> Report:
    if action == "create":
        return deployment.create()
    if action == "delete":
        return deployment.delete(force=force)
    if action == "scale":
        assert replicas is not None  # checked by _hook_arguments
        return deployment.scale(component, replicas)
    if action == "upgrade":
        assert version is not None
        return deployment.upgrade(version, component)
    assert component is not None
    return deployment.restart(component)


def _hook_arguments(
    ext: Extension,
    config: ClusterConfig,
    action: str,
    component: str | None,
    replicas: int | None,
    version: str | None,
) -> dict[str, Any]:
    """The hook's arguments, every input checked first (InputError naming each field)."""
    kwargs: dict[str, Any] = {"config": config}
    problems = []
    if (
        action == "restart_component"
        or (action == "scale" and component is not None)
        or (action == "upgrade" and component)
    ):
        problems += _component_problems(ext, config, action, component)
        if action != "upgrade" or ext.accepts("upgrade", "component"):
            kwargs["component"] = component
    if action == "scale":
        kwargs["component"] = component  # None: every component (the seed's scale)
    if action == "scale":
        if replicas is None or replicas < 0:
            problems.append("--replicas must be given, 0 or more @ --replicas")
        kwargs["replicas"] = replicas
    if action == "upgrade":
        if not version:
            problems.append("--version is required @ --version")
        kwargs["version"] = version
    if problems:
        raise InputError(
            f"cannot {action.replace('_', ' ')} cluster {config.name!r}", problems=problems
        )
    return kwargs


def _component_problems(
    ext: Extension, config: ClusterConfig, action: str, component: str | None
) -> list[str]:
    if component is None:
        return ["a component is required @ COMPONENT"]
    where = "COMPONENT" if action == "restart_component" else "--component"
    if (
        action == "upgrade"
        and ext.implements("upgrade")
        and not ext.accepts("upgrade", "component")
    ):
        return [f"the {ext.name} plugin upgrades the whole cluster only @ {where}"]
    known = [c.name for c in _components(ext, config)]
    if known and component not in known:
        return [f"unknown component {component!r}; allowed: {', '.join(known)} @ {where}"]
    return []


def _components(ext: Extension, config: ClusterConfig) -> list[Component]:
    if config.components:
        return list(config.components)
    if ext.implements("list_components"):
        listed: list[Component] = ext.call("list_components", config=config)
        return listed
    if ext.implements("cluster_info"):
        info: ClusterInfo = ext.call("cluster_info")
        return list(info.components)
    return []


def _plan(
    ext: Extension, action: str, config: ClusterConfig, kwargs: dict[str, Any]
) -> TargetResult:
    if ext.accepts(action, "check"):
        result: OperationResult = ext.call(action, check=True, **kwargs)
        return TargetResult(
            config.name,
            "planned" if result.changed else "unchanged",
            actions=list(result.actions) or [result.message or f"{action} {config.name}"],
            data=changes_of(result),
        )
    # the plugin cannot describe it: the core says what the components and their order are
    parts = _components(ext, config)
    waves = dependency_waves({c.name: c.depends_on for c in parts}, what="components")
    if action == "delete":
        waves = list(reversed(waves))
    verb = action.replace("_", " ")
    actions = [f"{verb} cluster {config.name} with plugin {ext.name}"]
    actions += (
        [f"wave {i}: {', '.join(w)}" for i, w in enumerate(waves, 1)]
        if action in {"create", "delete"}
        else []
    )
    if kwargs.get("component"):
        actions.append(
            f"component {kwargs['component']}"
            + (f" to {kwargs['replicas']} replicas" if action == "scale" else "")
        )
    elif action == "scale":
        actions.append(f"every component to {kwargs['replicas']} replicas")
    if kwargs.get("version"):
        actions.append(f"to version {kwargs['version']}")
    actions.append(f"(the {ext.name} plugin cannot describe its steps in check mode)")
    return TargetResult(
        config.name, "planned", actions=actions, data={"config": unstructure(config)}
    )


def _wait_cluster(
    engine: Engine, ext: Extension, config: ClusterConfig, *, gone: bool
) -> ClusterStatus:
    target = GONE if gone else READY

    def poll() -> ClusterStatus:
        status: ClusterStatus = ext.call("status", config=config)
        return status

    def done(s: ClusterStatus) -> bool:
        return s.status in target and (gone or all(c.healthy is not False for c in s.components))

    def failed(s: ClusterStatus) -> str | None:
        if s.status in FAILED:
            bad = [f"{c.name}: {c.message or c.status}" for c in s.components if c.healthy is False]
            return f"status {s.status}" + (f" ({'; '.join(bad)})" if bad else "")
        return None

    return engine.wait(
        config.name,
        poll,
        done,
        what=f"cluster {config.name}",
        describe=lambda s: s.status,
        failed=failed,
    )


def cluster_status(engine: Engine, name: str) -> ClusterStatus:
    """The status of cluster ``name`` and each of its components."""
    ext, config = cluster_config(engine, name)
    if not ext.implements("status"):
        return _deployment(engine, ext, config, "status").status()
    status: ClusterStatus = ext.call("status", config=config)
    return status


def list_clusters(engine: Engine) -> list[dict[str, Any]]:
    """Every cluster the configuration names, with what the inventory knows of it.

    ``type`` and ``version`` come from ``[clusters.NAME]``; ``last_action``,
    ``last_status`` and ``last_at`` from the audit trail's latest cluster
    operation on it; ``components`` counts the placements recorded (cluster
    engine deployments).  Nothing is asked of a plugin: ``prov cluster status``
    does that.
    """
    configured = engine.config.get("clusters", {}) or {}
    latest: dict[str, Any] = {}
    placed: dict[str, int] = {}
    if engine.inventory_exists():
        for record in engine.inventory.operations(limit=100_000):
            if record.action.startswith("cluster.") and record.target not in latest:
                latest[record.target] = record
        for name in configured:
            placed[name] = len(engine.inventory.components(name))
    rows = []
    for name in sorted(configured):
        table = configured[name] if isinstance(configured[name], dict) else {}
        op: Any = latest.get(name)
        rows.append(
            {
                "name": name,
                "type": table.get("type", name),
                "version": table.get("version"),
                "components": placed.get(name, 0),
                "last_action": op.action.removeprefix("cluster.") if op else None,
                "last_status": op.status if op else None,
                "last_at": (op.finished_at or op.started_at).isoformat() if op else None,
            }
        )
    return rows


def components(engine: Engine, name: str) -> list[Component]:
    """The components of cluster ``name``."""
    ext, config = cluster_config(engine, name)
    return _components(ext, config)


def component_status(engine: Engine, name: str, component: str) -> ComponentStatus:
    """The status of one component of cluster ``name``."""
    ext, config = cluster_config(engine, name)
    known = [c.name for c in _components(ext, config)]
    if known and component not in known:
        raise InputError(
            f"cluster {name!r} has no component {component!r}",
            problems=[f"allowed: {', '.join(known)} @ COMPONENT"],
        )
    if not ext.implements("component_status"):
        whole = _deployment(engine, ext, config, "component_status").status()
        return next(c for c in whole.components if c.name == component)
    status: ComponentStatus = ext.call("component_status", config=config, component=component)
    return status
