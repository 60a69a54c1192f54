"""The hooks each kind of extension implements (**contract**).

Plugins mark implementations with :data:`hookimpl`; an implementation may take
any subset of a spec's arguments, so arguments can be added here later without
breaking existing plugins.  Each extension is loaded into a plugin manager of
its own holding only its kind's specs, so every hook is ``firstresult``: the
call returns the one implementation's result, not a list.

Every hook is listed in :data:`HOOKS` with whether it is required and, for an
optional one, the capability its absence takes away ("firewall rules").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import pluggy

from provisioning_core.models import (
    ClusterConfig,
    ClusterInfo,
    ClusterStatus,
    Component,
    ComponentStatus,
    ConnectionResult,
    ExtensionType,
    FirewallRule,
    OperationResult,
    Plan,
    Price,
    ProviderInfo,
    ProviderSettings,
    Server,
    ServerConfig,
    SshAccess,
    TaskservInfo,
    TaskservStatus,
    TaskservVersion,
    UpdateInfo,
    ValidationReport,
    Zone,
)

__all__ = ["HOOKS", "PROJECT", "HookDef", "hookimpl", "hookspec", "spec_class"]

PROJECT = "provisioning"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class ProviderSpec:
    """Hooks of a provider: a place servers come from."""

    @hookspec(firstresult=True)
    def provider_info(self) -> ProviderInfo | dict[str, Any]:  # type: ignore[empty-body]
        """Describe the provider.

        Called when a user asks about the provider and by validation, which
        checks that it returns a well-formed record.
        Return a :class:`ProviderInfo` (or a dict with its keys).
        """

    @hookspec(firstresult=True)
    def validate_config(self, settings: ProviderSettings) -> ValidationReport:  # type: ignore[empty-body]
        """Check the provider's settings before anything uses them.

        ``settings`` is the provider's :class:`ProviderSettings`.  Return a
        :class:`ValidationReport`; errors stop the command, warnings are shown.
        """

    @hookspec(firstresult=True)
    def test_connection(self, settings: ProviderSettings) -> ConnectionResult:  # type: ignore[empty-body]
        """Reach the provider's API with ``settings`` and report whether it answers.

        Called when a user checks a provider's settings.  Return a
        :class:`ConnectionResult`; do not raise for a refused login, report it.
        """

    @hookspec(firstresult=True)
    def create_server(  # type: ignore[empty-body]
        self, settings: ProviderSettings, config: ServerConfig, check: bool
    ) -> Server:
        """Create one server described by ``config``.

        Called once per server (in parallel for ``--count``).  With ``check``
        true, change nothing and return the :class:`Server` that would be
        created (``status`` "creating", ``id`` may be empty).  A plugin that
        does not accept ``check`` is never called in check mode.  Return the
        new server, usually still "creating"; the core waits when asked.
        """

    @hookspec(firstresult=True)
    def delete_server(self, settings: ProviderSettings, server_id: str) -> None:
        """Delete the server ``server_id`` and the storage it owns.

        Raise :class:`ServerNotFound` if it does not exist.  Return None.
        """

    @hookspec(firstresult=True)
    def list_servers(self, settings: ProviderSettings) -> list[Server]:  # type: ignore[empty-body]
        """Return every server the account holds, as :class:`Server` records."""

    @hookspec(firstresult=True)
    def get_server_info(self, settings: ProviderSettings, server_id: str) -> Server:  # type: ignore[empty-body]
        """Return the current :class:`Server` for ``server_id``.

        Raise :class:`ServerNotFound` if it does not exist; the core polls this
        hook while waiting for a state.
        """

    @hookspec(firstresult=True)
    def start_server(self, settings: ProviderSettings, server_id: str) -> None:
        """Start the stopped server ``server_id``; return None once accepted."""

    @hookspec(firstresult=True)
    def stop_server(self, settings: ProviderSettings, server_id: str) -> None:
        """Stop the running server ``server_id``; return None once accepted."""

    @hookspec(firstresult=True)
    def reboot_server(self, settings: ProviderSettings, server_id: str) -> None:
        """Reboot the server ``server_id``; return None once accepted."""

    @hookspec(firstresult=True)
    def get_pricing(self, settings: ProviderSettings) -> list[Price]:  # type: ignore[empty-body]
        """Return the hourly :class:`Price` of each plan (per zone where it varies)."""

    @hookspec(firstresult=True)
    def get_plans(self, settings: ProviderSettings) -> list[Plan]:  # type: ignore[empty-body]
        """Return the :class:`Plan` records servers can be created with.

        The core validates ``--plan`` against this list before creating.
        """

    @hookspec(firstresult=True)
    def get_zones(self, settings: ProviderSettings) -> list[Zone]:  # type: ignore[empty-body]
        """Return the :class:`Zone` records servers can be created in.

        The core validates ``--zone`` against this list before creating.
        """

    @hookspec(firstresult=True)
    def get_ssh_access(self, settings: ProviderSettings, server_id: str) -> SshAccess:  # type: ignore[empty-body]
        """Return how to reach ``server_id`` over SSH (:class:`SshAccess`)."""

    @hookspec(firstresult=True)
    def configure_firewall(
        self, settings: ProviderSettings, server_id: str, rules: list[FirewallRule]
    ) -> None:
        """Replace the firewall rules of ``server_id`` with ``rules`` and enable it.

        Return None.
        """


class TaskservSpec:
    """Hooks of a taskserv: software installed and run on a server.

    Arguments shared by these hooks:

    ``server``
        the :class:`Server` to act on.
    ``ssh``
        the :class:`SshAccess` to reach it.
    ``settings``
        the taskserv's own settings (``[taskservs.<name>]``), a dict.
    ``check``
        when true, change nothing and describe what would change.
    """

    @hookspec(firstresult=True)
    def taskserv_info(self) -> TaskservInfo:  # type: ignore[empty-body]
        """Describe the taskserv: source, install, dependencies, service, health check.

        Return a :class:`TaskservInfo`; ``dependencies`` are requirement strings
        (``containerd>=1.6``) checked before anything is installed.
        """

    @hookspec(firstresult=True)
    def install(  # type: ignore[empty-body]
        self,
        server: Server,
        ssh: SshAccess,
        version: str | None,
        settings: dict[str, Any],
        check: bool,
    ) -> OperationResult:
        """Install ``version`` (None: the latest) on ``server`` and start it.

        Must be idempotent: installing what is there reports ``changed`` False.
        Return an :class:`OperationResult`.
        """

    @hookspec(firstresult=True)
    def uninstall(  # type: ignore[empty-body]
        self,
        server: Server,
        ssh: SshAccess,
        keep_data: bool,
        force: bool,
        settings: dict[str, Any],
        check: bool,
    ) -> OperationResult:
        """Stop and remove the taskserv; keep its data directory if ``keep_data``.

        With ``force`` (``prov taskserv uninstall --force``, the seed's
        ``--force``), go on past a service that fails to stop: remove the rest
        and say in ``actions`` what could not be stopped.  Return an
        :class:`OperationResult` (or None, the seed's ``-> null``: done).
        """

    @hookspec(firstresult=True)
    def configure(  # type: ignore[empty-body]
        self, server: Server, ssh: SshAccess, settings: dict[str, Any], check: bool
    ) -> OperationResult:
        """Apply ``settings`` to the installed taskserv (render config, reload).

        Return an :class:`OperationResult`.
        """

    @hookspec(firstresult=True)
    def status(  # type: ignore[empty-body]
        self, server: Server, ssh: SshAccess, settings: dict[str, Any]
    ) -> TaskservStatus:
        """Return the taskserv's :class:`TaskservStatus` on ``server``."""

    @hookspec(firstresult=True)
    def restart(  # type: ignore[empty-body]
        self, server: Server, ssh: SshAccess, settings: dict[str, Any], check: bool
    ) -> OperationResult:
        """Restart the taskserv's service; return an :class:`OperationResult`."""

    @hookspec(firstresult=True)
    def upgrade(  # type: ignore[empty-body]
        self,
        server: Server,
        ssh: SshAccess,
        version: str,
        settings: dict[str, Any],
        check: bool,
    ) -> OperationResult:
        """Move the installed taskserv to ``version``; return an :class:`OperationResult`."""

    @hookspec(firstresult=True)
    def get_current_version(
        self, server: Server, ssh: SshAccess, settings: dict[str, Any]
    ) -> str | None:
        """Return the version installed on ``server``, or None if not installed."""

    @hookspec(firstresult=True)
    def get_available_versions(self, settings: dict[str, Any]) -> list[TaskservVersion]:  # type: ignore[empty-body]
        """Return the versions that can be installed, newest first."""

    @hookspec(firstresult=True)
    def check_updates(  # type: ignore[empty-body]
        self, server: Server, ssh: SshAccess, settings: dict[str, Any]
    ) -> UpdateInfo:
        """Compare the installed version with the newest available; return :class:`UpdateInfo`."""


class ClusterSpec:
    """Hooks of a cluster: components deployed in dependency order.

    ``config`` is always the :class:`ClusterConfig` being acted on and ``check``
    asks to change nothing and describe the plan.

    A plugin may implement only ``cluster_info`` (or ``list_components``): every
    action it leaves out is done by the core's cluster engine, which installs
    each component's taskserv on the cluster's servers in dependency waves,
    rolls back on failure and aggregates status (docs/clusters.md).  A plugin
    that implements an action takes it over entirely.
    """

    @hookspec(firstresult=True)
    def cluster_info(self) -> ClusterInfo:  # type: ignore[empty-body]
        """Describe the cluster and its components; return a :class:`ClusterInfo`.

        ``components`` are what the core deploys when the plugin leaves
        ``create`` out; ``versions`` maps cluster versions to component versions
        for ``prov cluster upgrade``.
        """

    @hookspec(firstresult=True)
    def create(self, config: ClusterConfig, check: bool) -> OperationResult:  # type: ignore[empty-body]
        """Deploy the cluster described by ``config``; return an :class:`OperationResult`.

        The core has checked ``config.resources`` (else ``required_resources``)
        against the servers' plans before the call.  The seed's
        ``endpoints`` in the result (``details["endpoints"]``, component ->
        addresses) are reported by ``prov cluster create``.
        """

    @hookspec(firstresult=True)
    def delete(  # type: ignore[empty-body]
        self, config: ClusterConfig, check: bool, force: bool
    ) -> OperationResult:
        """Remove the cluster's components in reverse order; return an :class:`OperationResult`.

        ``force`` (``prov cluster delete --force``, the seed's ``--force``) asks
        to go on past a component that cannot be removed; name what was left in
        the result's ``actions`` (or raise once everything else is removed).
        """

    @hookspec(firstresult=True)
    def status(self, config: ClusterConfig) -> ClusterStatus:  # type: ignore[empty-body]
        """Return the :class:`ClusterStatus`, aggregating every component.

        Its ``endpoints`` map a component to the addresses it serves on.
        """

    @hookspec(firstresult=True)
    def scale(  # type: ignore[empty-body]
        self, config: ClusterConfig, component: str | None, replicas: int, check: bool
    ) -> OperationResult:
        """Run ``replicas`` instances of ``component``; return an :class:`OperationResult`.

        ``component`` is None for the seed's ``scale(replicas)``
        (``prov cluster scale NAME --replicas N`` without ``--component``):
        scale every component that can be scaled.
        """

    @hookspec(firstresult=True)
    def upgrade(  # type: ignore[empty-body]
        self, config: ClusterConfig, version: str, check: bool
    ) -> OperationResult:
        """Move the cluster to ``version``; return an :class:`OperationResult`."""

    @hookspec(firstresult=True)
    def list_components(self, config: ClusterConfig) -> list[Component]:  # type: ignore[empty-body]
        """Return the cluster's :class:`Component` records."""

    @hookspec(firstresult=True)
    def component_status(self, config: ClusterConfig, component: str) -> ComponentStatus:  # type: ignore[empty-body]
        """Return the :class:`ComponentStatus` of ``component``."""

    @hookspec(firstresult=True)
    def restart_component(  # type: ignore[empty-body]
        self, config: ClusterConfig, component: str, check: bool
    ) -> OperationResult:
        """Restart ``component``; return an :class:`OperationResult`."""


@attrs.frozen
class HookDef:
    """One hook of one kind.

    ``result`` is the type the core structures the hook's return value into
    (None: returned as it is); ``capability`` is what users lose when an
    optional hook is absent, as in "provider X does not support firewall rules".
    """

    name: str
    required: bool
    capability: str
    result: Any = None
    mutating: bool = False


def _defs(*defs: HookDef) -> Mapping[str, HookDef]:
    return {d.name: d for d in defs}


HOOKS: Mapping[ExtensionType, Mapping[str, HookDef]] = {
    ExtensionType.PROVIDER: _defs(
        HookDef("provider_info", False, "describing itself", ProviderInfo),
        HookDef("validate_config", False, "validating its settings", ValidationReport),
        HookDef("test_connection", False, "connection tests", ConnectionResult),
        HookDef("create_server", True, "creating servers", Server, mutating=True),
        HookDef("delete_server", True, "deleting servers", mutating=True),
        HookDef("list_servers", True, "listing servers", list[Server]),
        HookDef("get_server_info", True, "server details", Server),
        HookDef("start_server", True, "starting servers", mutating=True),
        HookDef("stop_server", True, "stopping servers", mutating=True),
        HookDef("reboot_server", True, "rebooting servers", mutating=True),
        HookDef("get_pricing", False, "pricing", list[Price]),
        HookDef("get_plans", False, "listing plans", list[Plan]),
        HookDef("get_zones", False, "listing zones", list[Zone]),
        HookDef("get_ssh_access", False, "SSH access", SshAccess),
        HookDef("configure_firewall", False, "firewall rules", mutating=True),
    ),
    ExtensionType.TASKSERV: _defs(
        HookDef("taskserv_info", False, "describing itself", TaskservInfo),
        HookDef("install", True, "installing", OperationResult, mutating=True),
        HookDef("uninstall", True, "uninstalling", OperationResult, mutating=True),
        HookDef("configure", False, "configuration", OperationResult, mutating=True),
        HookDef("status", True, "status reports", TaskservStatus),
        HookDef("restart", False, "restarting", OperationResult, mutating=True),
        HookDef("upgrade", False, "upgrades", OperationResult, mutating=True),
        HookDef("get_current_version", False, "reporting the installed version"),
        HookDef("get_available_versions", False, "listing versions", list[TaskservVersion]),
        HookDef("check_updates", False, "update checks", UpdateInfo),
    ),
    ExtensionType.CLUSTER: _defs(
        # create/delete/status are optional: without them the core's cluster
        # engine deploys the components cluster_info/list_components describe
        HookDef("cluster_info", False, "describing itself", ClusterInfo),
        HookDef("create", False, "creating clusters", OperationResult, mutating=True),
        HookDef("delete", False, "deleting clusters", OperationResult, mutating=True),
        HookDef("status", False, "status reports", ClusterStatus),
        HookDef("scale", False, "scaling", OperationResult, mutating=True),
        HookDef("upgrade", False, "upgrades", OperationResult, mutating=True),
        HookDef("list_components", False, "listing components", list[Component]),
        HookDef("component_status", False, "component status", ComponentStatus),
        HookDef(
            "restart_component", False, "restarting components", OperationResult, mutating=True
        ),
    ),
}
"""Every hook of every kind: required or optional, and what its result is."""

_SPEC_CLASSES: Mapping[ExtensionType, type] = {
    ExtensionType.PROVIDER: ProviderSpec,
    ExtensionType.TASKSERV: TaskservSpec,
    ExtensionType.CLUSTER: ClusterSpec,
}


def spec_class(kind: ExtensionType) -> type:
    """The class holding the hookspecs of ``kind``."""
    return _SPEC_CLASSES[kind]
