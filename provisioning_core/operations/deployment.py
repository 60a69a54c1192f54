"""The generic cluster engine: deploy a cluster's components as taskservs.

A cluster plugin that does not implement ``create`` (or ``delete``,
``status``, ``scale``, ``upgrade``, ``restart_component``) only describes its
components (``cluster_info`` / ``list_components``); the core does the rest:

- a component is the taskserv of the same name (or ``settings.taskserv``),
  whatever its ``kind`` (the seed's ``type``: taskserv, application,
  infrastructure), installed on the first ``replicas`` servers of the
  cluster's ``servers``; one with ``enabled = false`` is skipped (reported in
  ``details["skipped"]``, never loaded);
- components run in dependency waves, each wave's steps in parallel, and
  each install waits until the taskserv reports itself running and healthy;
- when a step fails, what this run changed is undone in reverse order
  (uninstalled, or moved back to its earlier version); a step whose undo
  fails is marked "cleanup" in the inventory, with what is left, for a
  person to look at;
- delete runs in reverse order; status aggregates every component on every
  server (and ``endpoints``: each component's service ports on its servers'
  addresses); delete with ``force`` goes on past a failed removal and reports
  what was ``left``; scale adds or removes servers of one component (or of
  every enabled one); upgrade moves
  components to the versions a cluster version names (``ClusterInfo.versions``)
  or one component to a version.

Where each component is deployed is kept in the inventory
(``cluster_components``), so scale and delete act on what is there, not on
what the configuration said when the cluster was created.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
from packaging.requirements import InvalidRequirement, Requirement

from provisioning_core.errors import InputError, ProvisioningError
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
    TaskservInfo,
    TaskservStatus,
)
from provisioning_core.operations.engine import Engine
from provisioning_core.operations.executor import Interrupted
from provisioning_core.operations.report import Report, TargetResult, error_message
from provisioning_core.operations.taskservs import (
    Target,
    check_dependencies,
    describe_status,
    resolve_targets,
    wait_taskserv,
)

__all__ = ["Deployment", "Step"]

log = logging.getLogger("provisioning.clusters")

#: inventory statuses that mean "something of this component is on that server"
_PRESENT = frozenset({"deploying", "deployed", "failed", "cleanup"})


@attrs.frozen
class Step:
    """One taskserv action on one server; ``undo`` is the action that reverses it."""

    component: str
    taskserv: str
    server: str
    action: str  # install | uninstall | upgrade | restart
    version: str | None = None
    undo_version: str | None = None  # upgrade: the version to move back to

    @property
    def label(self) -> str:
        """How reports name it: ``component@server``."""
        return f"{self.component}@{self.server}"

    def undo(self) -> Step | None:
        """The step that reverses this one, if it can be reversed."""
        if self.action == "install":
            return attrs.evolve(self, action="uninstall", version=None)
        if self.action == "upgrade" and self.undo_version:
            return attrs.evolve(self, version=self.undo_version, undo_version=self.version)
        return None


@attrs.frozen
class _Done:
    """What one step did: whether it changed anything, and the taskserv's report."""

    changed: bool
    actions: list[str]
    status: str | None = None
    version: str | None = None


class Deployment:
    """The generic engine acting on one cluster: its components, waves and placement."""

    def __init__(
        self, engine: Engine, plugin: Extension, config: ClusterConfig, parts: list[Component]
    ) -> None:
        self.engine = engine
        self.plugin = plugin
        self.config = config
        self.parts = {c.name: c for c in parts}
        if not self.parts:
            raise ProvisioningError(
                f"cluster {config.name!r} has no components",
                hint=f"list them under [clusters.{config.name}] components, or use a cluster "
                f"plugin that describes them (plugin {plugin.name!r} does not)",
            )
        self.waves = dependency_waves(
            {c.name: c.depends_on for c in parts}, what=f"components of cluster {config.name}"
        )
        self.enabled = [c.name for c in parts if c.enabled]
        #: delete --force: uninstall goes on past a service that will not stop
        self.forced = False
        self._targets: dict[str, Target] = {}
        self._extensions: dict[str, Extension] = {}
        # what each install found before it ran: only what was absent may be undone
        self._present_before: dict[tuple[str, str], bool | None] = {}

    # --- what is where ---------------------------------------------------------------

    def taskserv(self, component: str) -> str:
        """The taskserv that implements ``component``."""
        name = self.parts[component].settings.get("taskserv", component)
        return str(name)

    def extension(self, component: str) -> Extension:
        """The loaded taskserv plugin of ``component``."""
        name = self.taskserv(component)
        if name not in self._extensions:
            self._extensions[name] = self.engine.extension(ExtensionType.TASKSERV, name)
        return self._extensions[name]

    def settings(self, component: str) -> dict[str, Any]:
        """The taskserv's settings with the component's own on top."""
        own = {k: v for k, v in self.parts[component].settings.items() if k != "taskserv"}
        return {**self.engine.config.taskserv_settings(self.taskserv(component)), **own}

    def configured(self, component: str) -> list[str]:
        """The servers the configuration puts ``component`` on: the first ``replicas``."""
        if not self.parts[component].enabled:
            return []
        return list(self.config.servers[: self.parts[component].replicas])

    def skipped(self) -> dict[str, str]:
        """The components not deployed, and why (the seed's ``enabled = false``)."""
        return {
            name: "disabled (enabled = false)"
            for name, part in self.parts.items()
            if not part.enabled
        }

    def placement(self) -> dict[str, list[str]]:
        """Where each component is now: the inventory's record, else the configuration."""
        recorded: dict[str, list[str]] = {}
        if self.engine.inventory_exists():
            for row in self.engine.inventory.components(self.config.name):
                if row.status in _PRESENT and row.component in self.parts:
                    recorded.setdefault(row.component, []).append(row.server)
        if not recorded:
            return {name: self.configured(name) for name in self.parts}
        return {name: recorded.get(name, []) for name in self.parts}

    def target(self, server: str) -> Target:
        """How to reach ``server`` (asked of its provider once per run)."""
        if server not in self._targets:
            (self._targets[server],) = resolve_targets(self.engine, [server], self.config.provider)
        return self._targets[server]

    # --- checks before anything runs ---------------------------------------------------

    def validate(self) -> None:
        """Every problem with the cluster's layout, at once, before anything is called."""
        problems = []
        if not self.config.servers:
            problems.append(f"the cluster has no servers @ $.clusters.{self.config.name}.servers")
        for name in self.enabled:
            part = self.parts[name]
            off = [d for d in part.depends_on if not self.parts[d].enabled]
            if off:
                problems.append(
                    f"{name} depends on {', '.join(off)}, which is disabled (enabled = false): "
                    f"enable it or drop the dependency @ "
                    f"$.clusters.{self.config.name}.components.{name}.depends_on"
                )
            if part.replicas > len(self.config.servers):
                problems.append(
                    f"{name} wants {part.replicas} replicas but the cluster has "
                    f"{len(self.config.servers)} servers @ "
                    f"$.clusters.{self.config.name}.components.{name}.replicas"
                )
        missing = []
        for name in self.enabled:
            try:
                self.extension(name)
            except ProvisioningError as exc:
                missing.append(f"{name}: {exc.message}")
        if missing:
            raise ProvisioningError(
                f"cluster {self.config.name!r} needs taskservs that are not usable: "
                + "; ".join(missing),
                hint="install the taskserv plugins it names (pip install "
                "provisioning-taskserv-<name>); `prov plugin list` shows what is installed",
            )
        problems += self._placement_problems(self.placement_for_create())
        if problems:
            raise InputError(f"cannot deploy cluster {self.config.name!r}", problems=problems)

    def placement_for_create(self) -> dict[str, list[str]]:
        """Where create puts each component: the configuration's placement."""
        return {name: self.configured(name) for name in self.parts}

    def _placement_problems(self, placement: Mapping[str, Sequence[str]]) -> list[str]:
        """A taskserv needing another on its server must find it on each of its servers."""
        problems = []
        for name in self.parts:
            if not placement[name]:
                continue
            needed = self._taskserv_needs(name)
            for other in self.parts:
                if self.taskserv(other) not in needed:
                    continue
                lacking = [s for s in placement[name] if s not in placement[other]]
                if lacking:
                    problems.append(
                        f"{name} needs {other} on the same server, but {other} is not placed on "
                        f"{', '.join(lacking)}: give {other} at least as many replicas as {name}"
                    )
        return problems

    def _taskserv_needs(self, component: str) -> set[str]:
        ext = self.extension(component)
        if not ext.implements("taskserv_info"):
            return set()
        info: TaskservInfo = ext.call("taskserv_info")
        names = set()
        for text in info.dependencies:
            try:
                names.add(Requirement(text).name)
            except InvalidRequirement:
                continue  # the install's own dependency check names it
        return names

    # --- running steps in waves, with rollback -------------------------------------------

    def steps_in_waves(
        self, make: Callable[[str], list[Step]], *, reverse: bool = False
    ) -> list[list[Step]]:
        """``make(component)`` for every component, grouped by dependency wave."""
        waves = list(reversed(self.waves)) if reverse else self.waves
        grouped = [[step for name in wave for step in make(name)] for wave in waves]
        return [wave for wave in grouped if wave]

    def plan(self, operation: str, waves: list[list[Step]]) -> Report:
        """Check mode: what each step would do, wave by wave; nothing is changed."""
        results = []
        for number, wave in enumerate(waves, 1):
            for step in wave:
                actions = [f"wave {number}: {self._describe(step)}"]
                outcome = "planned"
                ext = self.extension(step.component)
                if ext.accepts(step.action, "check"):
                    result: OperationResult = ext.call(
                        step.action, check=True, **self._arguments(step)
                    )
                    actions += list(result.actions) or ([result.message] if result.message else [])
                    outcome = "planned" if result.changed else "unchanged"
                else:
                    actions.append(
                        f"(the {ext.name} plugin cannot describe its steps in check mode)"
                    )
                results.append(
                    TargetResult(step.label, outcome, actions=actions, data={"wave": number})
                )
        return Report(operation, check=True, results=results)

    def run(
        self,
        operation: str,
        waves: list[list[Step]],
        *,
        rollback: bool,
        keep_going: bool = False,
    ) -> Report:
        """Run ``waves`` in order, each in parallel; on a failure, undo what was done.

        With ``keep_going`` a failure stops nothing: every wave runs, and the
        report's ``details["left"]`` names each step that failed.
        """
        left: list[str] = []
        results: list[TargetResult] = []
        done: list[list[Step]] = []  # steps that changed something, per wave
        for number, wave in enumerate(waves, 1):
            try:
                outcomes = self.engine.executor.map(self._one, wave)
            except Interrupted as stop:
                # the user asked to stop: record what happened, undo nothing
                results += self._results(stop.outcomes, number)
                return Report(operation, check=False, results=results, interrupted=True)
            results += self._results(outcomes, number)
            done.append(
                [o.item for o in outcomes if o.value and o.value.changed and self._undoable(o.item)]
            )
            failed = [o for o in outcomes if not o.ok]
            if keep_going:
                left += [o.item.label for o in failed]
                continue
            if not failed:
                continue
            skipped = [step for later in waves[number:] for step in later]
            results += [
                TargetResult(s.label, "skipped", error="not started: an earlier step failed")
                for s in skipped
            ]
            if rollback:
                half_done = [o.item for o in failed if o.started and self._undoable(o.item)]
                results += self._rollback(done, half_done)
            return Report(operation, check=False, results=results)
        details: dict[str, Any] = {"left": left} if keep_going else {}
        return Report(operation, check=False, results=results, details=details)

    def _results(self, outcomes: Sequence[Any], wave: int) -> list[TargetResult]:
        results = []
        for outcome in outcomes:
            step: Step = outcome.item
            if not outcome.started:
                results.append(
                    TargetResult(step.label, "skipped", error="not started: interrupted")
                )
            elif outcome.error is not None:
                results.append(TargetResult.failure(step.label, outcome.error, data={"wave": wave}))
            else:
                value: _Done = outcome.value
                results.append(
                    TargetResult(
                        step.label,
                        "done" if value.changed else "unchanged",
                        value.status,
                        [self._describe(step), *value.actions],
                        data={"wave": wave, "version": value.version},
                    )
                )
        return results

    def _rollback(self, done: list[list[Step]], half_done: list[Step]) -> list[TargetResult]:
        """Undo ``done`` last wave first (each wave in parallel), then ``half_done``."""
        undo_waves = [[u for s in wave if (u := s.undo())] for wave in reversed(done)]
        undo_waves = [w for w in undo_waves if w]
        if half_done:
            undo_waves.insert(0, [u for s in half_done if (u := s.undo())])
        results: list[TargetResult] = []
        for wave in undo_waves:
            try:
                outcomes = self.engine.executor.map(self._undo_one, wave)
            except Interrupted as stop:
                outcomes = stop.outcomes
            for outcome in outcomes:
                step: Step = outcome.item
                if outcome.ok:
                    results.append(
                        TargetResult(step.label, "rolled back", actions=[self._describe(step)])
                    )
                else:
                    error = outcome.error or ProvisioningError("not started: interrupted")
                    results.append(
                        attrs.evolve(
                            TargetResult.failure(step.label, error),
                            hint=f"rollback failed: clean {step.component} up on {step.server} "
                            f"by hand, then run `prov cluster delete {self.config.name}`",
                        )
                    )
        return results

    def _undoable(self, step: Step) -> bool:
        """Whether undoing ``step`` only takes back what this run did.

        An install is undone (uninstalled) only where the taskserv was absent
        before it ran; an upgrade, when the version it came from is known.
        """
        if step.action == "install":
            return self._present_before.get((step.component, step.server)) is False
        return step.undo() is not None

    def _undo_one(self, step: Step) -> _Done:
        try:
            return self._one(step)
        except ProvisioningError as exc:
            self._record(step, "cleanup", message=f"rollback ({step.action}) failed: {exc.message}")
            raise

    def _one(self, step: Step) -> _Done:
        """Run one step: its hook, its audit record, its inventory row, its health wait."""
        ext = self.extension(step.component)
        target = self.target(step.server)
        settings = self.settings(step.component)
        with self.engine.recording(
            f"taskserv.{step.action}",
            f"{step.taskserv}@{step.server}",
            provider=target.located.provider,
            details={
                "cluster": self.config.name,
                "component": step.component,
                "version": step.version,
            },
        ) as op:
            self.engine.reporter(step.label, self._describe(step))
            if step.action in {"install", "upgrade"}:
                self._record(step, "deploying")
            try:
                if step.action == "install":
                    check_dependencies(self.engine, ext, [target])
                    self._present_before[(step.component, step.server)] = self._installed(
                        ext, target, settings
                    )
                result: OperationResult = ext.call(
                    step.action, check=False, **self._arguments(step)
                )
                status: TaskservStatus | None = None
                if step.action in {"install", "upgrade", "restart"} and ext.implements("status"):
                    # returns once running and healthy; WaitTimeout says what it last saw
                    status = wait_taskserv(self.engine, ext, target, settings, gone=False)
            except ProvisioningError as exc:
                if step.action in {"install", "upgrade"}:
                    self._record(step, "failed", message=exc.message)
                elif step.action == "uninstall":
                    self._record(step, "cleanup", message=f"uninstall failed: {exc.message}")
                op.finish("failed", error=exc.message)
                raise
            version = (status.version if status else None) or step.version
            if step.action == "uninstall":
                self.engine.inventory.remove_component(
                    self.config.name, step.component, step.server
                )
            elif step.action in {"install", "upgrade"}:
                self._record(step, "deployed", version=version)
            op.finish("succeeded", changed=result.changed, actions=list(result.actions))
        return _Done(
            result.changed,
            list(result.actions) or ([result.message] if result.message else []),
            describe_status(status) if status else None,
            version,
        )

    @staticmethod
    def _installed(ext: Extension, target: Target, settings: dict[str, Any]) -> bool | None:
        """Whether the taskserv is on the server now (None: it cannot say)."""
        if ext.implements("get_current_version"):
            current = ext.call(
                "get_current_version", server=target.server, ssh=target.ssh, settings=settings
            )
            return current is not None
        if ext.implements("status"):
            status: TaskservStatus = ext.call(
                "status", server=target.server, ssh=target.ssh, settings=settings
            )
            return status.installed
        return None

    def _record(
        self, step: Step, status: str, *, message: str = "", version: str | None = None
    ) -> None:
        self.engine.inventory.set_component(
            self.config.name,
            step.component,
            step.server,
            taskserv=step.taskserv,
            status=status,
            version=version or (step.version if step.action == "upgrade" else None),
            message=message,
        )

    def _arguments(self, step: Step) -> dict[str, Any]:
        target = self.target(step.server)
        kwargs: dict[str, Any] = {
            "server": target.server,
            "ssh": target.ssh,
            "settings": self.settings(step.component),
        }
        if step.action in {"install", "upgrade"}:
            kwargs["version"] = step.version
        if step.action == "uninstall":
            kwargs["keep_data"] = False
            kwargs["force"] = self.forced  # delete --force: past a service that will not stop
        return kwargs

    def _describe(self, step: Step) -> str:
        version = f" {step.version}" if step.version else ""
        return f"{step.action} {step.taskserv}{version} on {step.server}"

    # --- the operations ----------------------------------------------------------------

    def create(self) -> Report:
        """Install every component where the configuration places it, wave by wave."""
        self.validate()
        placement = self.placement_for_create()

        def installs(name: str) -> list[Step]:
            return [
                Step(name, self.taskserv(name), server, "install", self.parts[name].version)
                for server in placement[name]
            ]

        waves = self.steps_in_waves(installs)
        skipped = self.skipped()
        if self.engine.check:
            report = self.plan("cluster.create", waves)
        else:
            report = self.run("cluster.create", waves, rollback=True)
            if report.ok:
                report = attrs.evolve(report, details={"endpoints": self.endpoints(placement)})
        return attrs.evolve(report, details={**report.details, "skipped": skipped})

    def delete(self, *, force: bool = False) -> Report:
        """Uninstall every component from where it is, in reverse dependency order.

        With ``force`` a removal that fails stops nothing; what was left is in
        ``details["left"]`` (and the report fails).
        """
        placement = self.placement()
        for name in self.parts:
            if placement[name]:
                self.extension(name)

        def removals(name: str) -> list[Step]:
            return [Step(name, self.taskserv(name), s, "uninstall") for s in placement[name]]

        waves = self.steps_in_waves(removals, reverse=True)
        if self.engine.check:
            return self.plan("cluster.delete", waves)
        self.forced = force
        return self.run("cluster.delete", waves, rollback=False, keep_going=force)

    def scale(self, component: str | None, replicas: int) -> Report:
        """Put ``component`` (None: every enabled one) on the first ``replicas`` servers.

        Servers are added in dependency order, then removed in reverse order.
        """
        servers = list(self.config.servers)
        scaled = [component] if component is not None else list(self.enabled)
        what = component if component is not None else "every component"
        if component is not None and not self.parts[component].enabled:
            raise InputError(
                f"cannot scale {component} of cluster {self.config.name!r}",
                problems=[f"{component} is disabled (enabled = false) @ --component"],
                hint="enable it in the cluster's configuration first",
            )
        if replicas > len(servers):
            raise InputError(
                f"cannot scale {what} of cluster {self.config.name!r} to {replicas}",
                problems=[
                    f"the cluster has {len(servers)} servers @ --replicas",
                ],
                hint=f"add servers to [clusters.{self.config.name}] servers first",
            )
        placement = self.placement()
        current = dict(placement)
        wanted = servers[:replicas]
        for name in scaled:
            placement[name] = wanted
        problems = self._placement_problems(placement)
        if problems:
            raise InputError(
                f"cannot scale {what} of cluster {self.config.name!r} to {replicas}",
                problems=problems,
            )

        def adds(name: str) -> list[Step]:
            if name not in scaled:
                return []
            version = self.parts[name].version
            return [
                Step(name, self.taskserv(name), s, "install", version)
                for s in wanted
                if s not in current[name]
            ]

        def removes(name: str) -> list[Step]:
            if name not in scaled:
                return []
            return [
                Step(name, self.taskserv(name), s, "uninstall")
                for s in current[name]
                if s not in wanted
            ]

        waves = self.steps_in_waves(adds) + self.steps_in_waves(removes, reverse=True)
        if self.engine.check:
            return self.plan("cluster.scale", waves)
        return self.run("cluster.scale", waves, rollback=True)

    def upgrade(self, version: str, component: str | None) -> Report:
        """Move components to the versions cluster ``version`` names (or one component)."""
        targets = self._versions(version, component)
        placement = self.placement()
        current = self._current_versions(placement)

        def upgrades(name: str) -> list[Step]:
            if name not in targets:
                return []
            return [
                Step(name, self.taskserv(name), s, "upgrade", targets[name], current.get((name, s)))
                for s in placement[name]
                if current.get((name, s)) != targets[name]
            ]

        waves = self.steps_in_waves(upgrades)
        if self.engine.check:
            return self.plan("cluster.upgrade", waves)
        return self.run("cluster.upgrade", waves, rollback=True)

    def _versions(self, version: str, component: str | None) -> dict[str, str]:
        if component is not None:
            return {component: version}
        info: ClusterInfo | None = (
            self.plugin.call("cluster_info") if self.plugin.implements("cluster_info") else None
        )
        known = dict(info.versions) if info else {}
        if version not in known:
            raise InputError(
                f"cluster {self.config.name!r} has no version {version!r}",
                problems=[
                    "allowed: "
                    + (", ".join(known) or "none (the plugin names no cluster versions)")
                    + " @ --version"
                ],
                hint="or upgrade one component: --component NAME --version V",
            )
        unknown = [c for c in known[version] if c not in self.parts]
        if unknown:
            raise ProvisioningError(
                f"cluster version {version} of plugin {self.plugin.name!r} names components the "
                f"cluster does not have: {', '.join(unknown)}",
                hint="report it to the cluster plugin's author",
            )
        return dict(known[version])

    def _current_versions(
        self, placement: Mapping[str, Sequence[str]]
    ) -> dict[tuple[str, str], str | None]:
        recorded: dict[tuple[str, str], str | None] = {}
        if self.engine.inventory_exists():
            for row in self.engine.inventory.components(self.config.name):
                recorded[(row.component, row.server)] = row.version
        for name, servers in placement.items():
            if not servers:
                continue
            ext = self.extension(name)
            for server in servers:
                if (name, server) in recorded or not ext.implements("get_current_version"):
                    continue
                target = self.target(server)
                recorded[(name, server)] = ext.call(
                    "get_current_version",
                    server=target.server,
                    ssh=target.ssh,
                    settings=self.settings(name),
                )
        return recorded

    def restart(self, component: str) -> Report:
        """Restart ``component`` on every server it is on."""
        steps = [
            Step(component, self.taskserv(component), s, "restart")
            for s in self.placement()[component]
        ]
        if self.engine.check:
            return self.plan("cluster.restart_component", [steps])
        return self.run("cluster.restart_component", [steps], rollback=False)

    def status(self) -> ClusterStatus:
        """Every component's status, aggregated over its servers, and the cluster's."""
        placement = self.placement()
        cleanup = {}
        if self.engine.inventory_exists():
            cleanup = {
                (r.component, r.server): r.message
                for r in self.engine.inventory.components(self.config.name)
                if r.status == "cleanup"
            }
        pairs = [(name, server) for name in self.parts for server in placement[name]]

        def one(pair: tuple[str, str]) -> TaskservStatus:
            name, server = pair
            target = self.target(server)
            status: TaskservStatus = self.extension(name).call(
                "status", server=target.server, ssh=target.ssh, settings=self.settings(name)
            )
            return status

        outcomes = dict(zip(pairs, self.engine.executor.map(one, pairs), strict=True))
        components = []
        skipped = self.skipped()
        for name in self.parts:
            servers = placement[name]
            if not servers and name in skipped:
                components.append(ComponentStatus(name, "skipped", message=skipped[name]))
                continue
            parts = []
            states = []
            versions = set()
            for server in servers:
                outcome = outcomes[(name, server)]
                s = outcome.value
                if s is None:
                    states.append("unknown")
                    error = outcome.error or ProvisioningError("no status")
                    parts.append(f"{server}: {error_message(error)}")
                    continue
                states.append(_state(s))
                parts.append(f"{server}: {describe_status(s)}")
                if s.version:
                    versions.add(s.version)
                if (name, server) in cleanup:
                    states[-1] = "cleanup"
                    parts[-1] += f" (needs cleanup: {cleanup[(name, server)]})"
            components.append(
                ComponentStatus(
                    name,
                    _aggregate(states),
                    healthy=bool(states) and all(s == "running" for s in states),
                    version=", ".join(sorted(versions)) or None,
                    message="; ".join(parts) or "not placed on any server",
                )
            )
        overall = _aggregate(
            [
                "failed" if c.status == "cleanup" else c.status
                for c in components
                if c.status != "skipped"
            ],
            cluster=True,
        )
        deployed = {
            c.name: placement[c.name] for c in components if c.status not in {"absent", "skipped"}
        }
        return ClusterStatus(self.config.name, overall, components, self.endpoints(deployed))

    def endpoints(self, placement: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
        """Each placed component's service ports on its servers' addresses.

        The ports are the taskserv's ``service.ports`` (else the seed's
        ``ports``); a taskserv with one port whose settings give ``port`` serves
        on that one instead.  A taskserv whose description fails is left out:
        the endpoints never turn a done deployment into a failed one.
        """
        found: dict[str, list[str]] = {}
        for name, servers in placement.items():
            if not servers:
                continue
            try:
                ext = self.extension(name)
                if not ext.implements("taskserv_info"):
                    continue
                info: TaskservInfo = ext.call("taskserv_info")
            except ProvisioningError as exc:
                log.warning("no endpoints for %s: %s", name, exc.message)
                continue
            ports = list(info.service.ports) if info.service and info.service.ports else []
            ports = ports or list(info.ports)
            port = self.settings(name).get("port")
            if len(ports) == 1 and isinstance(port, int) and not isinstance(port, bool):
                ports = [port]
            addresses = []
            for server in servers:
                target = self.target(server)
                host = (
                    target.server.ip_addresses[0] if target.server.ip_addresses else target.ssh.host
                )
                addresses += [f"{host}:{p}" for p in ports]
            if addresses:
                found[name] = addresses
        return found


def _state(status: TaskservStatus) -> str:
    if not status.installed:
        return "absent"
    if not status.running:
        return "stopped"
    return "unhealthy" if status.healthy is False else "running"


def _aggregate(states: Sequence[str], *, cluster: bool = False) -> str:
    """One word for many: all the same is that word, else "degraded".

    Something left for manual cleanup wins: the component says "cleanup", the
    cluster "failed".
    """
    if not states:
        return "absent"
    if "cleanup" in states or (cluster and "failed" in states):
        return "failed" if cluster else "cleanup"
    if len(set(states)) == 1:
        return states[0]
    return "degraded"
