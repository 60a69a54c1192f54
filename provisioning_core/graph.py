"""Dependency order as parallel waves (graphlib from the standard library)."""

from __future__ import annotations

import graphlib
from collections.abc import Iterable, Mapping

from provisioning_core.errors import ConfigError, DependencyCycleError

__all__ = ["dependency_waves", "reverse_waves"]


def dependency_waves(
    graph: Mapping[str, Iterable[str]], *, what: str = "components"
) -> list[list[str]]:
    """Group the nodes of ``graph`` (node -> what it depends on) into waves.

    Every node of a wave depends only on nodes of earlier waves, so a wave's
    nodes can run in parallel.  Names within a wave are sorted, so the order is
    the same on every run.  Raises :class:`ConfigError` when a node depends on
    one that is not in ``graph`` and :class:`DependencyCycleError`, naming
    the cycle, when there is no order.
    """
    graph = {node: list(deps) for node, deps in graph.items()}
    unknown = [
        f"{node!r} depends on {dep!r}, which is not defined"
        for node, deps in graph.items()
        for dep in deps
        if dep not in graph
    ]
    if unknown:
        raise ConfigError(
            f"{what} depend on undefined {what}",
            problems=unknown,
            hint=f"define the missing {what} or remove the dependency",
        )
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter(graph)
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        # graphlib lists each node before the one that needs it; reverse it
        # so it reads "a needs b needs c needs a"
        raise DependencyCycleError(list(reversed(exc.args[1])), what=what) from None
    waves = []
    while sorter.is_active():
        wave = sorted(sorter.get_ready())
        sorter.done(*wave)
        waves.append(wave)
    return waves


def reverse_waves(waves: list[list[str]]) -> list[list[str]]:
    """The order to undo ``waves`` in (delete, rollback): last wave first."""
    return [list(w) for w in reversed(waves)]
