"""Taskserv operations: install and run software on servers, through taskserv plugins.

A taskserv operation names the taskserv and one or more servers; each server
is located (inventory first, then its provider), its SSH access asked for, and
the taskserv's hook called for each server concurrently.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from provisioning_core.convert import unstructure
from provisioning_core.errors import InputError, ProvisioningError
from provisioning_core.extensions import Extension
from provisioning_core.models import (
    ExtensionType,
    OperationResult,
    Server,
    SshAccess,
    TaskservInfo,
    TaskservStatus,
    TaskservVersion,
    UpdateInfo,
)
from provisioning_core.operations.engine import Engine
from provisioning_core.operations.report import Report, TargetResult, changes_of
from provisioning_core.operations.servers import Located, locate_server
from provisioning_core.operations.waiting import WaitCancelled

__all__ = [
    "Target",
    "check_updates",
    "run_taskserv",
    "taskserv_status",
    "taskserv_versions",
]

ACTIONS = ("install", "uninstall", "configure", "restart", "upgrade")


@attrs.frozen
class Target:
    """One server a taskserv acts on, with how to reach it."""

    located: Located
    server: Server
    ssh: SshAccess

    @property
    def label(self) -> str:
        """How results name it: the server's hostname."""
        return self.located.hostname


def resolve_targets(engine: Engine, servers: Sequence[str], provider: str | None) -> list[Target]:
    if not servers:
        raise InputError("no server given", hint="pass --server S (repeat it for several servers)")
    targets = []
    for ref in servers:
        loc = locate_server(engine, ref, provider)
        p = engine.provider(loc.provider)
        server: Server = p.call("get_server_info", server_id=loc.server_id)
        if p.extension.implements("get_ssh_access"):
            ssh: SshAccess = p.call("get_ssh_access", server_id=loc.server_id)
        elif server.ip_addresses:
            ssh = SshAccess(host=server.ip_addresses[0])
        else:
            raise ProvisioningError(
                f"cannot reach server {loc.hostname}: provider {loc.provider!r} gives neither "
                "SSH access nor an IP address",
                hint="use a provider that supports SSH access",
            )
        targets.append(Target(loc, server, ssh))
    return targets


def run_taskserv(
    engine: Engine,
    action: str,
    name: str,
    servers: Sequence[str],
    *,
    provider: str | None = None,
    version: str | None = None,
    keep_data: bool = False,
    force: bool = False,
    wait: bool = False,
) -> Report:
    """Run ``action`` (install, uninstall, configure, restart, upgrade) of taskserv ``name``.

    ``keep_data`` and ``force`` are uninstall's: keep the data directories, and
    go on past a service that fails to stop.
    """
    with engine.writing():
        if action not in ACTIONS:
            raise ValueError(f"unknown taskserv action {action!r}")
        ext = engine.extension(ExtensionType.TASKSERV, name)
        ext.require(action)
        settings = engine.config.taskserv_settings(name)
        version = _checked_version(ext, action, version, settings)
        targets = resolve_targets(engine, servers, provider)
        if action == "install":
            check_dependencies(engine, ext, targets)
        kwargs = _hook_arguments(action, settings, version, keep_data=keep_data, force=force)
        operation = f"taskserv.{action}"

        if engine.check:
            return Report(
                operation,
                check=True,
                results=[_plan(ext, action, t, version, kwargs) for t in targets],
            )

        def one(target: Target) -> TargetResult:
            with engine.recording(
                operation,
                f"{name}@{target.label}",
                provider=target.located.provider,
                details={"server_id": target.server.id, "version": version},
            ) as op:
                engine.reporter(target.label, f"{action} {name}")
                result: OperationResult = ext.call(
                    action, server=target.server, ssh=target.ssh, check=False, **kwargs
                )
                outcome = "done" if result.changed else "unchanged"
                status = None
                if wait and ext.implements("status"):
                    try:
                        status = wait_taskserv(
                            engine, ext, target, settings, gone=action == "uninstall"
                        )
                    except WaitCancelled as exc:
                        op.finish("interrupted", error=exc.message, waited=False)
                        return TargetResult.interrupted(
                            target.label, exc, actions=list(result.actions)
                        )
                    except ProvisioningError as exc:
                        op.finish("failed", error=exc.message)
                        return TargetResult.failure(target.label, exc, actions=result.actions)
                installed = (status.version if status else None) or result.details.get("version")
                op.finish(
                    "succeeded",
                    changed=result.changed,
                    actions=list(result.actions),
                    **({"installed_version": str(installed)} if installed else {}),
                )
            return TargetResult(
                target.label,
                outcome,
                describe_status(status) if status else None,
                list(result.actions) or ([result.message] if result.message else []),
                data={
                    "taskserv": name,
                    "server_id": target.server.id,
                    "message": result.message,
                    **changes_of(result),
                },
            )

        report = engine.run_each(operation, targets, one, lambda t: t.label)
        if force and action == "uninstall" and not ext.accepts("uninstall", "force"):
            warning = f"the {name} plugin's uninstall takes no force; it ran without it"
            report = attrs.evolve(report, warnings=[*report.warnings, warning])
        return report


def _hook_arguments(
    action: str, settings: dict[str, Any], version: str | None, *, keep_data: bool, force: bool
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"settings": settings}
    if action in {"install", "upgrade"}:
        kwargs["version"] = version
    if action == "uninstall":
        kwargs["keep_data"] = keep_data
        kwargs["force"] = force
    return kwargs


def _checked_version(
    ext: Extension, action: str, version: str | None, settings: dict[str, Any]
) -> str | None:
    if action not in {"install", "upgrade"}:
        return version
    available: list[TaskservVersion] = (
        ext.call("get_available_versions", settings=settings)
        if ext.implements("get_available_versions")
        else []
    )
    names = [v.version for v in available]
    if version is None:
        if action == "install":
            return None  # the plugin installs its latest
        stable = [v.version for v in available if not v.prerelease]
        if not stable:
            raise InputError(
                f"no version to upgrade taskserv {ext.name!r} to",
                problems=["no --version given and the plugin lists no versions @ --version"],
                hint="pass --version V",
            )
        return max(stable, key=_version_key)
    if names and version not in names:
        raise InputError(
            f"taskserv {ext.name!r} has no version {version!r}",
            problems=[f"allowed: {', '.join(names)} @ --version"],
            hint=f"prov taskserv versions {ext.name} lists them",
        )
    return version


def _version_key(text: str) -> tuple[int, Version | str]:
    try:
        return (1, Version(text))
    except InvalidVersion:
        return (0, text)


def check_dependencies(engine: Engine, ext: Extension, targets: list[Target]) -> None:
    """Each requirement of ``taskserv_info`` must be installed on every target server."""
    if not ext.implements("taskserv_info"):
        return
    info: TaskservInfo = ext.call("taskserv_info")
    problems = []
    for text in info.dependencies:
        try:
            requirement = Requirement(text)
        except InvalidRequirement as exc:
            problems.append(f"the plugin declares an invalid dependency {text!r}: {exc}")
            continue
        dependency = engine.extension(ExtensionType.TASKSERV, requirement.name)
        if not dependency.implements("get_current_version"):
            continue  # it cannot say: trust the operator
        dep_settings = engine.config.taskserv_settings(requirement.name)
        for target in targets:
            current = dependency.call(
                "get_current_version", server=target.server, ssh=target.ssh, settings=dep_settings
            )
            if current is None:
                problems.append(f"{requirement.name} is not installed on {target.label}")
            elif requirement.specifier and not requirement.specifier.contains(
                current, prereleases=True
            ):
                problems.append(
                    f"{target.label} has {requirement.name} {current}, "
                    f"{ext.name} needs {requirement}"
                )
    if problems:
        first = info.dependencies[0] if info.dependencies else ""
        raise ProvisioningError(
            f"cannot install {ext.name} {info.version}: " + "; ".join(problems),
            hint=f"install what it needs first, e.g. prov taskserv install "
            f"{Requirement(first).name if first else '<name>'} --server <server>",
        )


def _plan(
    ext: Extension, action: str, target: Target, version: str | None, kwargs: dict[str, Any]
) -> TargetResult:
    what = f"{action} {ext.name}" + (f" {version}" if version else "") + f" on {target.label}"
    if ext.accepts(action, "check"):
        result: OperationResult = ext.call(
            action, server=target.server, ssh=target.ssh, check=True, **kwargs
        )
        return TargetResult(
            target.label,
            "planned" if result.changed else "unchanged",
            actions=list(result.actions) or [what],
            data=changes_of(result),
        )
    return TargetResult(
        target.label,
        "planned",
        actions=[what, f"(the {ext.name} plugin cannot describe its steps in check mode)"],
    )


def wait_taskserv(
    engine: Engine, ext: Extension, target: Target, settings: dict[str, Any], *, gone: bool
) -> TaskservStatus:
    def poll() -> TaskservStatus:
        status: TaskservStatus = ext.call(
            "status", server=target.server, ssh=target.ssh, settings=settings
        )
        return status

    def done(s: TaskservStatus) -> bool:
        if gone:
            return not s.installed
        return s.installed and s.running and s.healthy is not False

    def failed(s: TaskservStatus) -> str | None:
        # a terminal state: the service manager gave up, so it will not come up by waiting
        if not gone and s.systemd_status == "failed":
            return s.message or "its service failed"
        return None

    return engine.wait(
        target.label,
        poll,
        done,
        what=f"{ext.name} on {target.label}",
        describe=describe_status,
        failed=failed,
    )


def describe_status(status: TaskservStatus) -> str:
    if not status.installed:
        return "not installed"
    if not status.running:
        return "failed" if status.systemd_status == "failed" else "stopped"
    if status.healthy is False:
        return "unhealthy"
    return "running" + (f" {status.version}" if status.version else "")


def taskserv_status(
    engine: Engine, name: str, servers: Sequence[str], *, provider: str | None = None
) -> list[dict[str, Any]]:
    """The status of taskserv ``name`` on each server: ``{"server": hostname, **status}``."""
    ext = engine.extension(ExtensionType.TASKSERV, name)
    settings = engine.config.taskserv_settings(name)
    targets = resolve_targets(engine, servers, provider)
    outcomes = engine.executor.map(
        lambda t: ext.call("status", server=t.server, ssh=t.ssh, settings=settings), targets
    )
    statuses: list[dict[str, Any]] = []
    for target, outcome in zip(targets, outcomes, strict=True):
        if outcome.error is not None:
            raise outcome.error
        statuses.append({"server": target.label, **unstructure(outcome.value)})
    return statuses


_INSTALLING = ("taskserv.install", "taskserv.upgrade", "taskserv.uninstall")


def installed_taskservs(
    engine: Engine, *, server: str | None = None, refresh: bool = False
) -> list[dict[str, Any]]:
    """What is installed where, as the audit trail says: one row per taskserv and server.

    The last install, upgrade or uninstall that succeeded decides: an uninstall
    removes the row.  ``version`` is the version installed when it is known (the
    plugin said, or ``--wait`` saw it), else the one asked for.  ``refresh`` asks
    each server (the taskserv's ``status`` hook) for ``running``, ``healthy`` and
    ``message``; otherwise they are None.
    """
    if not engine.inventory_exists():
        return []
    latest: dict[tuple[str, str], Any] = {}
    for op in reversed(engine.inventory.operations(limit=100_000, status="succeeded")):
        if op.action not in _INSTALLING or "@" not in op.target:
            continue
        name, host = op.target.split("@", 1)
        if server is None or host == server:
            latest[(name, host)] = op
    rows = []
    for (name, host), op in sorted(latest.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if op.action == "taskserv.uninstall":
            continue
        version = op.details.get("installed_version") or op.details.get("version")
        rows.append(
            {
                "server": host,
                "taskserv": name,
                "version": version,
                "installed_at": (op.finished_at or op.started_at).isoformat(),
                "provider": op.provider,
                "running": None,
                "healthy": None,
                "message": None,
            }
        )
    if refresh:
        for row in rows:
            try:
                [status] = taskserv_status(engine, row["taskserv"], [row["server"]])
            except ProvisioningError as exc:
                row["message"] = exc.message
                continue
            row.update(
                running=status.get("running"),
                healthy=status.get("healthy"),
                message=status.get("message"),
                version=status.get("version") or row["version"],
            )
    return rows


def taskserv_versions(engine: Engine, name: str) -> list[TaskservVersion]:
    """The versions taskserv ``name`` can install, newest first."""
    ext = engine.extension(ExtensionType.TASKSERV, name)
    versions: list[TaskservVersion] = ext.call(
        "get_available_versions", settings=engine.config.taskserv_settings(name)
    )
    return versions


def check_updates(
    engine: Engine, name: str, servers: Sequence[str], *, provider: str | None = None
) -> list[dict[str, Any]]:
    """For each server, whether a newer version of taskserv ``name`` is available."""
    ext = engine.extension(ExtensionType.TASKSERV, name)
    ext.require("check_updates")
    settings = engine.config.taskserv_settings(name)
    rows = []
    for target in resolve_targets(engine, servers, provider):
        info: UpdateInfo = ext.call(
            "check_updates", server=target.server, ssh=target.ssh, settings=settings
        )
        rows.append({"server": target.label, **unstructure(info)})
    return rows
