"""A cluster's resource requirements, checked against its servers' plans.

The requirements are the ``resources`` of ``[clusters.<name>]`` (the seed's
``ClusterConfig.resources``), else the plugin's ``required_resources``
(``cluster_info``).  ``min_nodes`` is checked against the number of the
cluster's servers, and ``cpu_per_node``, ``memory_per_node`` and
``storage_per_node`` against each server's plan as its provider's
``get_plans`` describes it (``cores``, ``memory_mb`` in MiB, ``storage_gb`` in
GiB).  Every unmet requirement is an :class:`InputError` (exit 2) raised before
anything is deployed, in check mode too.
"""

from __future__ import annotations

from typing import Any

from provisioning_core.errors import InputError
from provisioning_core.extensions import Extension
from provisioning_core.models import ClusterConfig, ClusterInfo, ClusterResources, Plan, Server
from provisioning_core.operations.engine import Engine
from provisioning_core.operations.servers import locate_server
from provisioning_core.quantities import format_size, gib, mib, parse_cpu, parse_size

__all__ = ["check_requirements", "required_resources"]


def required_resources(
    ext: Extension, config: ClusterConfig
) -> tuple[ClusterResources, str] | None:
    """The requirements and where they come from (a path a person can find), or None."""
    if config.resources is not None:
        return config.resources, f"$.clusters.{config.name}.resources"
    if ext.implements("cluster_info"):
        info: ClusterInfo = ext.call("cluster_info")
        if info.required_resources is not None:
            return info.required_resources, f"required_resources of cluster plugin {ext.name!r}"
    return None


def check_requirements(engine: Engine, ext: Extension, config: ClusterConfig) -> dict[str, Any]:
    """The seed's ``requirements_check`` (``met``, ``issues``, each server's plan).

    Raises :class:`InputError` naming each server, plan and requirement not met.
    Reads only: the inventory, ``get_server_info`` and ``get_plans``.
    """
    found = required_resources(ext, config)
    if found is None:
        return {"met": True, "issues": [], "required": None, "servers": {}}
    need, origin = found
    issues: list[str] = []
    if len(config.servers) < need.min_nodes:
        issues.append(
            f"the cluster has {len(config.servers)} server(s) but needs at least "
            f"{need.min_nodes} (min_nodes of {origin}) @ $.clusters.{config.name}.servers"
        )
    plans: dict[str, dict[str, Plan] | None] = {}
    described: dict[str, str] = {}
    for ref in config.servers:
        located = locate_server(engine, ref, config.provider)
        provider = engine.provider(located.provider)
        server: Server = provider.call("get_server_info", server_id=located.server_id)
        if located.provider not in plans:
            listed: list[Plan] | None = (
                provider.call("get_plans") if provider.extension.implements("get_plans") else None
            )
            plans[located.provider] = {p.name: p for p in listed} if listed is not None else None
        offered = plans[located.provider]
        plan = offered.get(server.plan) if offered is not None and server.plan else None
        if plan is None:
            why = (
                f"provider {located.provider!r} does not list its plans (no get_plans)"
                if offered is None
                else f"its plan {server.plan!r} is not one provider {located.provider!r} lists"
                if server.plan
                else "the provider names no plan for it"
            )
            issues.append(
                f"server {located.hostname}: cannot check the per-node requirements of {origin}: "
                f"{why} @ $.clusters.{config.name}.servers"
            )
            continue
        described[located.hostname] = _describe(plan)
        issues += _plan_issues(located.hostname, plan, need, origin, config.name)
    if issues:
        raise InputError(
            f"the servers of cluster {config.name!r} do not meet its resource requirements",
            problems=issues,
            hint=f"use servers with bigger plans (`prov server plans -p PROVIDER` lists them) "
            f"or add servers to [clusters.{config.name}] servers; or lower the requirements "
            f"in [clusters.{config.name}.resources]",
        )
    return {
        "met": True,
        "issues": [],
        "required": {
            "min_nodes": need.min_nodes,
            "cpu_per_node": need.cpu_per_node,
            "memory_per_node": need.memory_per_node,
            "storage_per_node": need.storage_per_node,
            "from": origin,
        },
        "servers": described,
    }


def _plan_issues(
    hostname: str, plan: Plan, need: ClusterResources, origin: str, cluster: str
) -> list[str]:
    where = f"server {hostname} (plan {plan.name})"
    issues = []
    checks: list[tuple[str, str, int | None, int, str]] = [
        (
            "cpu_per_node",
            need.cpu_per_node,
            None if plan.cores is None else plan.cores * 1000,
            parse_cpu(need.cpu_per_node),
            f"{plan.cores} core(s)",
        ),
        (
            "memory_per_node",
            need.memory_per_node,
            None if plan.memory_mb is None else mib(plan.memory_mb),
            parse_size(need.memory_per_node),
            f"{plan.memory_mb} MB ({format_size(mib(plan.memory_mb or 0))})",
        ),
        (
            "storage_per_node",
            need.storage_per_node,
            None if plan.storage_gb is None else gib(plan.storage_gb),
            parse_size(need.storage_per_node),
            f"{plan.storage_gb} GB ({format_size(gib(plan.storage_gb or 0))})",
        ),
    ]
    for key, wanted, has, required, shown in checks:
        if has is None:
            issues.append(
                f"{where}: the plan does not say its {key.split('_')[0]}, so {key} "
                f"{wanted!r} of {origin} cannot be checked @ $.clusters.{cluster}.servers"
            )
        elif has < required:
            issues.append(
                f"{where} has {shown}, less than {key} {wanted!r} of {origin} "
                f"@ $.clusters.{cluster}.servers"
            )
    return issues


def _describe(plan: Plan) -> str:
    return f"plan {plan.name}: {plan.cores} cores, {plan.memory_mb} MB, {plan.storage_gb} GB"
