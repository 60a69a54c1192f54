"""The conformance suite: what every plugin of a kind must do, as pytest tests.

A plugin runs it against itself by subclassing its kind's class in its tests
and pointing the fixtures at a backend it can reach from a test (an emulator,
a local sandbox, the tiny backend of a scaffold)::

    class TestConformance(ProviderConformance):
        provider = "example"

        @pytest.fixture
        def provider_settings(self, prov_home):
            return ProviderSettings(name="example", api=ProviderApi(base_url=EMULATOR))

Each failure says which hook broke which rule of the contract and where that
rule is documented.  ``prov plugin test NAME`` runs the same classes on an
installed plugin (docs/testing.md).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import attrs
import pytest
from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from provisioning_core.convert import unstructure
from provisioning_core.errors import DependencyCycleError, ServerNotFound
from provisioning_core.extensions import Extension, ExtensionManager
from provisioning_core.graph import dependency_waves
from provisioning_core.models import (
    ClusterConfig,
    Component,
    ExtensionType,
    FirewallRule,
    OperationResult,
    ProviderSettings,
    Server,
    ServerConfig,
    ServerStatus,
    SshAccess,
    TaskservStatus,
)
from provisioning_core.operations.calls import RetryPolicy, retrying, with_timeout
from provisioning_core.testing.lab import (
    Lab,
    Sandbox,
    sandbox_picture,
    toml_tables,
)
from provisioning_core.testing.mirror import ArtifactMirror
from provisioning_core.testing.plugin import ProvResult, run_prov

__all__ = [
    "ClusterConformance",
    "LabTaskservConformance",
    "ProviderConformance",
    "TaskservConformance",
]

HOOKS_DOC = "docs/hooks.md"
#: transitional statuses a server may pass through on its way to a stable one
_MOVING = frozenset(
    {
        ServerStatus.CREATING,
        ServerStatus.STARTING,
        ServerStatus.STOPPING,
        ServerStatus.REBOOTING,
        ServerStatus.RUNNING,
        ServerStatus.STOPPED,
    }
)
_CURRENCY = re.compile(r"^[A-Z]{3}$")
Snapshot = Callable[[], Any]


def _broke(extension: str, hook: str, rule: str, detail: str = "", *, anchor: str = "") -> str:
    """The message of a contract failure: who, which hook, which rule, where it is written.

    ``anchor`` is the hook's heading in docs/hooks.md when its name is not
    (a cluster's ``status`` comes after the taskserv's: ``status-1``).
    """
    text = f"{extension}: {hook} breaks the contract: {rule}"
    if detail:
        text += f"\n  {detail}"
    return f"{text}\n  see the hook reference: provisioning-core {HOOKS_DOC}#{anchor or hook}"


def _load(hook_timeout: float, kind: ExtensionType, name: str, attempts: int = 5) -> Extension:
    """The extension as the core loads it: transient errors retried, hung hooks abandoned.

    Pauses are short: a conformance run should not wait minutes on a 429
    from an emulator that asked for a one second Retry-After.  A hook that
    runs past ``hook_timeout`` fails its test with :class:`PluginTimeout`,
    naming the hook, instead of hanging the suite.
    """
    policy = RetryPolicy(attempts=attempts, base_delay=0.05, max_delay=1.0)
    manager = ExtensionManager(interceptors=[retrying(policy), with_timeout(hook_timeout)])
    return manager.load_extension(kind, name)


class _Conformance:
    """What every kind's suite shares: isolation, timeouts and backend snapshots."""

    #: seconds to wait for a server, taskserv or cluster to reach a state
    timeout: ClassVar[float] = 120.0
    #: seconds between two polls while waiting
    poll_interval: ClassVar[float] = 0.2
    #: seconds one hook call may take before it fails its test
    hook_timeout: ClassVar[float] = 300.0

    @pytest.fixture(autouse=True)
    def _conformance_isolation(self, prov_home: Path) -> Path:
        """Every conformance test runs with its own PROV_HOME and workspace."""
        return prov_home

    @pytest.fixture
    def backend_writes(self) -> Callable[[], int] | None:
        """Override: a count of the mutating requests the backend has received.

        When given, every check-mode test asserts that it did not move.
        """
        return None

    @pytest.fixture
    def backend_snapshot(self) -> Snapshot | None:
        """Override: any comparable picture of the backend's state (files, processes, rows).

        When given, every check-mode test asserts it is the same before and after.
        """
        return None

    @pytest.fixture
    def backend_picture(
        self, backend_writes: Callable[[], int] | None, backend_snapshot: Snapshot | None
    ) -> Snapshot:
        def picture() -> dict[str, Any]:
            return {
                "backend writes": backend_writes() if backend_writes else None,
                "backend snapshot": backend_snapshot() if backend_snapshot else None,
            }

        return picture

    def _wait(
        self, broken: tuple[str, str, str], probe: Callable[[], Any], done: Callable[[Any], bool]
    ) -> Any:
        """Poll ``probe`` until ``done``; past ``timeout``, fail with ``broken``'s rule."""
        deadline = time.monotonic() + self.timeout
        last = probe()
        while not done(last):
            if time.monotonic() > deadline:
                extension, hook, rule = broken
                detail = (
                    f"not so within {self.timeout:g} s (the suite's timeout); last seen: {last!r}"
                )
                pytest.fail(_broke(extension, hook, rule, detail))
            time.sleep(self.poll_interval)
            last = probe()
        return last


# --- providers -------------------------------------------------------------------------------


class ProviderConformance(_Conformance):
    """The provider contract: catalogue, lifecycle, check mode, not-found, data shapes.

    Set ``provider`` to the entry-point name; override ``provider_settings``
    to reach your backend, and ``backend_writes`` or ``backend_snapshot`` so
    check mode is proven to change nothing there.
    """

    provider: ClassVar[str]
    #: the plan, zone and OS of the test server (None: the first plan and zone listed)
    plan: ClassVar[str | None] = None
    zone: ClassVar[str | None] = None
    os: ClassVar[str | None] = None
    #: an id no server has, in the provider's id format
    missing_id: ClassVar[str] = "00000000-0000-4000-8000-000000000000"

    @pytest.fixture
    def provider_settings(self) -> ProviderSettings:
        """Override: the settings that reach your backend (default: none at all)."""
        return ProviderSettings(name=self.provider)

    @pytest.fixture
    def provider_under_test(self, provider_settings: ProviderSettings) -> _Provider:
        retries = provider_settings.api.retries
        attempts = 5 if retries is None else retries + 1
        extension = _load(self.hook_timeout, ExtensionType.PROVIDER, self.provider, attempts)
        return _Provider(extension, provider_settings)

    @pytest.fixture
    def server_config(self, provider_under_test: _Provider) -> ServerConfig:
        """Override: the server the lifecycle test creates."""
        p = provider_under_test
        plan = self.plan or (p.call("get_plans")[0].name if p.has("get_plans") else "small")
        zone = self.zone or (p.call("get_zones")[0].name if p.has("get_zones") else "default")
        kwargs: dict[str, Any] = {"os": self.os} if self.os else {}
        return ServerConfig(hostname="conformance-1", plan=plan, zone=zone, **kwargs)

    def test_provider_info_is_well_formed(self, provider_under_test: _Provider) -> None:
        p = provider_under_test
        if not p.has("provider_info"):
            pytest.skip("provider_info is optional and not implemented")
        info = p.call("provider_info")
        assert info.name == self.provider, _broke(
            self.provider,
            "provider_info",
            "the name must be the entry-point name",
            f"got {info.name!r}",
        )
        assert info.version, _broke(self.provider, "provider_info", "the version must not be empty")

    def test_validate_config_accepts_these_settings(self, provider_under_test: _Provider) -> None:
        p = provider_under_test
        if not p.has("validate_config"):
            pytest.skip("validate_config is optional and not implemented")
        report = p.call("validate_config")
        assert report.valid, _broke(
            self.provider,
            "validate_config",
            "settings the provider works with must be reported valid",
            f"errors: {report.errors}",
        )
        assert report.valid == (not report.errors), _broke(
            self.provider, "validate_config", "valid must be False exactly when there are errors"
        )

    def test_connection_answers(self, provider_under_test: _Provider) -> None:
        p = provider_under_test
        if not p.has("test_connection"):
            pytest.skip("test_connection is optional and not implemented")
        result = p.call("test_connection")
        assert result.ok, _broke(
            self.provider, "test_connection", "a reachable backend must report ok", repr(result)
        )

    def test_plans_are_well_formed(self, provider_under_test: _Provider) -> None:
        p = provider_under_test
        if not p.has("get_plans"):
            pytest.skip("get_plans is optional and not implemented")
        plans = p.call("get_plans")
        names = [plan.name for plan in plans]
        assert plans, _broke(self.provider, "get_plans", "at least one plan must be offered")
        assert len(set(names)) == len(names), _broke(
            self.provider, "get_plans", "plan names must be unique", f"got {names}"
        )
        for plan in plans:
            assert plan.name.strip(), _broke(self.provider, "get_plans", "a plan needs a name")
            for field in ("cores", "memory_mb", "storage_gb"):
                value = getattr(plan, field)
                assert value is None or value > 0, _broke(
                    self.provider, "get_plans", f"{field} must be positive", f"{plan!r}"
                )

    def test_zones_are_well_formed(self, provider_under_test: _Provider) -> None:
        p = provider_under_test
        if not p.has("get_zones"):
            pytest.skip("get_zones is optional and not implemented")
        names = [zone.name for zone in p.call("get_zones")]
        assert names, _broke(self.provider, "get_zones", "at least one zone must be offered")
        assert all(n.strip() for n in names), _broke(
            self.provider, "get_zones", "a zone needs a name"
        )
        assert len(set(names)) == len(names), _broke(
            self.provider, "get_zones", "zone names must be unique", f"got {names}"
        )

    def test_prices_name_known_plans_and_zones(self, provider_under_test: _Provider) -> None:
        p = provider_under_test
        if not p.has("get_pricing"):
            pytest.skip("get_pricing is optional and not implemented")
        prices = p.call("get_pricing")
        plans = {plan.name for plan in p.call("get_plans")} if p.has("get_plans") else None
        zones = {zone.name for zone in p.call("get_zones")} if p.has("get_zones") else None
        seen: set[tuple[str, str | None]] = set()
        for price in prices:
            where = f"{price!r}"
            assert price.hourly >= 0, _broke(
                self.provider, "get_pricing", "prices are not negative", where
            )
            assert _CURRENCY.match(price.currency), _broke(
                self.provider, "get_pricing", "currency is an ISO 4217 code like EUR", where
            )
            assert plans is None or price.plan in plans, _broke(
                self.provider, "get_pricing", "every price names a plan get_plans offers", where
            )
            assert zones is None or price.zone is None or price.zone in zones, _broke(
                self.provider, "get_pricing", "every price's zone is one get_zones offers", where
            )
            assert (price.plan, price.zone) not in seen, _broke(
                self.provider, "get_pricing", "one price per plan and zone", where
            )
            seen.add((price.plan, price.zone))

    def test_check_mode_creates_nothing(
        self, provider_under_test: _Provider, server_config: ServerConfig, backend_picture: Snapshot
    ) -> None:
        p = provider_under_test
        if not p.extension.accepts("create_server", "check"):
            pytest.skip("create_server takes no 'check': the core never calls it in check mode")
        before, pictured = p.server_ids(), backend_picture()
        planned = p.call("create_server", config=server_config, check=True)
        # pictured right after the call: the reads below may touch the backend too
        pictured_after = backend_picture()
        after = p.server_ids()
        assert after == before, _broke(
            self.provider,
            "create_server",
            "with check=True nothing may be created",
            f"servers before {sorted(before)}, after {sorted(after)}",
        )
        assert pictured_after == pictured, _broke(
            self.provider,
            "create_server",
            "with check=True no mutating request may reach the backend",
            f"backend before {pictured}, after {pictured_after}",
        )
        assert planned.status == ServerStatus.CREATING, _broke(
            self.provider,
            "create_server",
            'with check=True return the server that would be created, status "creating"',
            f"got {planned!r}",
        )
        assert planned.hostname.split(".")[0] == server_config.hostname, _broke(
            self.provider,
            "create_server",
            "the planned server has the requested hostname",
            repr(planned),
        )

    def test_unknown_servers_raise_server_not_found(self, provider_under_test: _Provider) -> None:
        p = provider_under_test
        for hook in ("get_server_info", "delete_server"):
            try:
                p.call(hook, server_id=self.missing_id)
            except ServerNotFound:
                continue
            pytest.fail(
                _broke(
                    self.provider,
                    hook,
                    "an unknown server id must raise ServerNotFound",
                    f"{hook}(server_id={self.missing_id!r}) returned instead",
                )
            )

    def test_lifecycle(self, provider_under_test: _Provider, server_config: ServerConfig) -> None:
        """create, info, list, stop, start, reboot, delete; then info raises ServerNotFound."""
        p = provider_under_test
        created = p.call("create_server", config=server_config, check=False)
        try:
            self._check_server(created, server_config, "create_server")
            running = self._wait_status(p, created.id, ServerStatus.RUNNING, "create_server")
            self._check_server(running, server_config, "get_server_info")
            listed = {s.id: s for s in p.call("list_servers")}
            assert created.id in listed, _broke(
                self.provider,
                "list_servers",
                "a server that exists must be listed",
                f"{created.id!r} not in {sorted(listed)}",
            )
            self._access_and_firewall(p, created.id)
            p.call("stop_server", server_id=created.id)
            self._wait_status(p, created.id, ServerStatus.STOPPED, "stop_server")
            p.call("start_server", server_id=created.id)
            self._wait_status(p, created.id, ServerStatus.RUNNING, "start_server")
            p.call("reboot_server", server_id=created.id)
            self._wait_status(p, created.id, ServerStatus.RUNNING, "reboot_server")
        finally:
            self._delete(p, created.id)
        assert created.id not in {s.id for s in p.call("list_servers")}, _broke(
            self.provider, "list_servers", "a deleted server must not be listed"
        )

    def _check_server(self, server: Server, config: ServerConfig, hook: str) -> None:
        assert server.id, _broke(self.provider, hook, "a server must have an id", repr(server))
        assert server.hostname.split(".")[0] == config.hostname, _broke(
            self.provider, hook, "the server has the requested hostname", repr(server)
        )
        for field in ("plan", "zone"):
            value = getattr(server, field)
            assert value in (None, getattr(config, field)), _broke(
                self.provider, hook, f"the server's {field} is the requested one", repr(server)
            )
        assert server.status != ServerStatus.ERROR, _broke(
            self.provider, hook, "a server created as asked must not be in error", repr(server)
        )

    def _wait_status(
        self, p: _Provider, server_id: str, status: ServerStatus, after: str
    ) -> Server:
        def done(server: Server) -> bool:
            assert server.status in _MOVING, _broke(
                self.provider,
                after,
                f"the server must reach {status.value!r} without errors",
                f"get_server_info says {server!r}",
            )
            return server.status == status

        server: Server = self._wait(
            (self.provider, after, f"the server reaches {status.value!r} (get_server_info)"),
            lambda: p.call("get_server_info", server_id=server_id),
            done,
        )
        return server

    def _access_and_firewall(self, p: _Provider, server_id: str) -> None:
        if p.has("get_ssh_access"):
            access: SshAccess = p.call("get_ssh_access", server_id=server_id)
            assert access.host, _broke(
                self.provider, "get_ssh_access", "a host to connect to", repr(access)
            )
            assert access.user, _broke(
                self.provider, "get_ssh_access", "a login user", repr(access)
            )
        if p.has("configure_firewall"):
            rules = [FirewallRule(direction="in", protocol="tcp", action="accept", port=22)]
            result = p.call("configure_firewall", server_id=server_id, rules=rules)
            assert result is None, _broke(
                self.provider, "configure_firewall", "returns None", repr(result)
            )

    def _delete(self, p: _Provider, server_id: str) -> None:
        if p.server_status(server_id) not in (None, ServerStatus.DELETING):
            p.call("delete_server", server_id=server_id)

        def gone(status: ServerStatus | None) -> bool:
            return status is None

        self._wait(
            (
                self.provider,
                "delete_server",
                "a deleted server goes away: get_server_info then raises ServerNotFound",
            ),
            lambda: p.server_status(server_id),
            gone,
        )


@attrs.frozen
class _Provider:
    """The provider's extension with its settings bound."""

    extension: Extension
    settings: ProviderSettings

    def has(self, hook: str) -> bool:
        return self.extension.implements(hook)

    def call(self, hook: str, **kwargs: Any) -> Any:
        if hook != "provider_info":
            kwargs.setdefault("settings", self.settings)
        return self.extension.call(hook, **kwargs)

    def server_ids(self) -> set[str]:
        return {server.id for server in self.call("list_servers")}

    def server_status(self, server_id: str) -> ServerStatus | None:
        try:
            server: Server = self.call("get_server_info", server_id=server_id)
        except ServerNotFound:
            return None
        return server.status


# --- taskservs -------------------------------------------------------------------------------


class TaskservConformance(_Conformance):
    """The taskserv contract: info, versions, idempotent install, status, uninstall, check mode.

    Set ``taskserv``; override ``taskserv_target`` with the server to install
    on (a local sandbox, or whatever your backend needs) and
    ``taskserv_settings`` with the settings to install with.
    """

    taskserv: ClassVar[str]
    #: the version to install (None: the taskserv's latest)
    version: ClassVar[str | None] = None

    @pytest.fixture
    def taskserv_target(self) -> tuple[Server, SshAccess]:
        """Override: the server to install on and how to reach it."""
        pytest.fail(
            f"{type(self).__name__}: override the taskserv_target fixture to return the "
            "(Server, SshAccess) the taskserv is installed on during the conformance tests, "
            "e.g. a local sandbox (docs/testing.md)"
        )

    @pytest.fixture
    def taskserv_settings(self) -> dict[str, Any]:
        """Override: the taskserv's settings, as ``[taskservs.<name>]`` would give them."""
        return {}

    @pytest.fixture
    def taskserv_under_test(
        self, taskserv_target: tuple[Server, SshAccess], taskserv_settings: dict[str, Any]
    ) -> Iterator[_Taskserv]:
        extension = _load(self.hook_timeout, ExtensionType.TASKSERV, self.taskserv)
        server, ssh = taskserv_target
        under_test = _Taskserv(extension, server, ssh, taskserv_settings)
        yield under_test
        if under_test.status().installed:  # a failed test must not leave it behind
            under_test.call("uninstall", keep_data=False, force=False, check=False)

    def test_taskserv_info_is_well_formed(self) -> None:
        extension = _load(self.hook_timeout, ExtensionType.TASKSERV, self.taskserv)
        if not extension.implements("taskserv_info"):
            pytest.skip("taskserv_info is optional and not implemented")
        info = extension.call("taskserv_info")
        assert info.name == self.taskserv, _broke(
            self.taskserv,
            "taskserv_info",
            "the name must be the entry-point name",
            f"got {info.name!r}",
        )
        assert info.version, _broke(self.taskserv, "taskserv_info", "the version must not be empty")
        for text in info.dependencies:
            try:
                Requirement(text)
            except InvalidRequirement as exc:
                pytest.fail(
                    _broke(
                        self.taskserv,
                        "taskserv_info",
                        "dependencies are requirement strings like 'containerd>=1.6'",
                        f"{text!r}: {exc}",
                    )
                )

    def test_available_versions_are_newest_first(self, taskserv_settings: dict[str, Any]) -> None:
        extension = _load(self.hook_timeout, ExtensionType.TASKSERV, self.taskserv)
        if not extension.implements("get_available_versions"):
            pytest.skip("get_available_versions is optional and not implemented")
        versions = extension.call("get_available_versions", settings=taskserv_settings)
        names = [v.version for v in versions]
        assert all(names), _broke(self.taskserv, "get_available_versions", "no empty versions")
        assert len(set(names)) == len(names), _broke(
            self.taskserv, "get_available_versions", "each version once", f"got {names}"
        )
        try:
            parsed = [Version(name) for name in names]
        except InvalidVersion:
            return  # not PEP 440 versions: their order is the plugin's to define
        assert parsed == sorted(parsed, reverse=True), _broke(
            self.taskserv,
            "get_available_versions",
            "versions are listed newest first",
            f"got {names}",
        )

    def test_check_mode_install_changes_nothing(
        self, taskserv_under_test: _Taskserv, backend_picture: Snapshot
    ) -> None:
        t = taskserv_under_test
        before, pictured = t.status(), backend_picture()
        planned = t.call("install", version=self.version, check=True)
        # pictured before status: a health check may change what a service keeps
        pictured_after = backend_picture()
        self._check_result(planned, "install")
        assert planned.changed, _broke(
            self.taskserv,
            "install",
            "with check=True on a server without it, report changed=True (what would change)",
            repr(planned),
        )
        after = t.status()
        assert (after.installed, after.version) == (before.installed, before.version), _broke(
            self.taskserv,
            "install",
            "with check=True nothing may be installed",
            f"{before!r} -> {after!r}",
        )
        assert pictured_after == pictured, _broke(
            self.taskserv,
            "install",
            "with check=True nothing may change on the server or backend",
            f"before {pictured}, after {pictured_after}",
        )

    def test_lifecycle(self, taskserv_under_test: _Taskserv, backend_picture: Snapshot) -> None:
        """install, status, version, install again (unchanged), uninstall (checked first)."""
        t = taskserv_under_test
        assert not t.status().installed, _broke(
            self.taskserv, "status", "installed must be False before anything is installed"
        )
        first = t.call("install", version=self.version, check=False)
        self._check_result(first, "install")
        assert first.changed, _broke(
            self.taskserv, "install", "a first install reports changed=True"
        )
        status = self._wait(
            (self.taskserv, "install", "once installed, status says installed and not unhealthy"),
            t.status,
            lambda s: s.installed and s.healthy is not False,
        )
        if self.version is not None:
            assert status.version in (None, self.version), _broke(
                self.taskserv, "status", "reports the version installed", repr(status)
            )
        if t.extension.implements("get_current_version"):
            current = t.call("get_current_version")
            assert current is not None, _broke(
                self.taskserv, "get_current_version", "an installed taskserv has a version"
            )
            assert self.version is None or current == self.version, _broke(
                self.taskserv, "get_current_version", "returns the version installed", repr(current)
            )
        again = t.call("install", version=self.version or status.version, check=False)
        assert not again.changed, _broke(
            self.taskserv,
            "install",
            "install is idempotent: installing what is there reports changed=False",
            repr(again),
        )
        self._configure_and_restart(t)
        pictured = backend_picture()
        planned = t.call("uninstall", keep_data=False, force=False, check=True)
        pictured_after = backend_picture()
        assert pictured_after == pictured, _broke(
            self.taskserv,
            "uninstall",
            "with check=True nothing may change on the server or backend",
            f"before {pictured}, after {pictured_after}",
        )
        self._check_result(planned, "uninstall")
        assert t.status().installed, _broke(
            self.taskserv, "uninstall", "with check=True nothing may be removed"
        )
        removed = t.call("uninstall", keep_data=False, force=False, check=False)
        assert removed.changed, _broke(
            self.taskserv, "uninstall", "removing what is there reports changed=True"
        )
        gone = t.status()
        assert not gone.installed, _broke(
            self.taskserv, "status", "installed is False after uninstall", repr(gone)
        )
        if t.extension.implements("get_current_version"):
            assert t.call("get_current_version") is None, _broke(
                self.taskserv, "get_current_version", "returns None when not installed"
            )

    def _configure_and_restart(self, t: _Taskserv) -> None:
        """configure applies settings idempotently; restart leaves it running and healthy."""
        if t.extension.implements("configure"):
            t.call("configure", check=False)  # the install already applied them, or not
            second = t.call("configure", check=False)
            # a configure that returns None (the seed's -> null) does not say
            # whether it changed anything: only one that reports is held to it
            assert not second.reported or not second.changed, _broke(
                self.taskserv,
                "configure",
                "configure is idempotent: applying the same settings again reports changed=False",
                repr(second),
            )
        if t.extension.implements("restart"):
            self._check_result(t.call("restart", check=False), "restart")
            self._wait(
                (self.taskserv, "restart", "after a restart, status says installed and running"),
                t.status,
                lambda s: s.installed and s.running and s.healthy is not False,
            )

    def _check_result(self, result: OperationResult, hook: str) -> None:
        assert all(isinstance(a, str) and a for a in result.actions), _broke(
            self.taskserv, hook, "actions are non-empty strings", repr(result.actions)
        )


@attrs.frozen
class _Taskserv:
    extension: Extension
    server: Server
    ssh: SshAccess
    settings: dict[str, Any]

    def call(self, hook: str, **kwargs: Any) -> Any:
        return self.extension.call(
            hook, server=self.server, ssh=self.ssh, settings=self.settings, **kwargs
        )

    def status(self) -> TaskservStatus:
        status: TaskservStatus = self.call("status")
        return status


class LabTaskservConformance(TaskservConformance):
    """The taskserv contract on a local sandbox, from releases served on 127.0.0.1.

    For a taskserv that installs over SSH: the suite installs it into a real
    local server (provider ``local``: provisioning-provider-local must be
    installed), with the settings pointing at an
    :class:`~provisioning_core.testing.ArtifactMirror`; check mode is held to
    changing no file and no process of the sandbox and downloading nothing
    (:func:`~provisioning_core.testing.sandbox_picture`).  Override
    :meth:`add_releases` to serve your releases and :meth:`extra_settings`
    for more settings (a free port, a pinned digest).
    """

    timeout = 60.0
    #: False for a taskserv that ships what it installs: its settings then get
    #: no mirror URLs nor health-check pace, only :meth:`extra_settings`
    uses_releases: ClassVar[bool] = True

    def add_releases(self, mirror: ArtifactMirror) -> None:
        """Serve the taskserv's releases on ``mirror`` (default: none)."""

    def extra_settings(self, sandbox: Sandbox) -> dict[str, Any]:  # noqa: ARG002 - for overrides
        """Settings beyond the mirror's and quick health checks, for ``sandbox``."""
        return {}

    @pytest.fixture
    def conformance_mirror(self) -> Iterator[ArtifactMirror]:
        """GitHub's stand-in, serving what :meth:`add_releases` adds."""
        with ArtifactMirror() as mirror:
            self.add_releases(mirror)
            yield mirror

    @pytest.fixture
    def conformance_lab(
        self, prov_home: Path, prov_workspace: Path, conformance_mirror: ArtifactMirror
    ) -> Lab:
        return Lab(prov_home, prov_workspace, conformance_mirror)

    @pytest.fixture
    def conformance_sandbox(self, conformance_lab: Lab) -> Sandbox:
        """A running local server, reaped with ``prov_home`` when the test ends."""
        return conformance_lab.create("conformance-1")

    @pytest.fixture
    def taskserv_target(self, conformance_sandbox: Sandbox) -> tuple[Server, SshAccess]:
        return conformance_sandbox.server, conformance_sandbox.ssh

    @pytest.fixture
    def taskserv_settings(
        self, conformance_lab: Lab, conformance_sandbox: Sandbox
    ) -> dict[str, Any]:
        extra = self.extra_settings(conformance_sandbox)
        if not self.uses_releases:
            return extra
        conformance_lab.use(self.taskserv, **extra)
        return conformance_lab.settings[self.taskserv]

    @pytest.fixture
    def backend_snapshot(self, conformance_sandbox: Sandbox, prov_home: Path) -> Snapshot:
        return sandbox_picture(conformance_sandbox, prov_home)


# --- clusters --------------------------------------------------------------------------------


class ClusterConformance(_Conformance):
    """The cluster contract: a well-formed description, and create/status/delete through prov.

    Set ``cluster``; override ``cluster_config`` with the cluster to deploy
    (its servers created by the fixture, e.g. local sandboxes) and
    ``workspace_toml`` with what else ``provisioning.toml`` needs (taskserv
    settings).  The lifecycle runs through ``prov cluster``, whether the
    plugin deploys itself or leaves it to the core's engine.
    """

    cluster: ClassVar[str]

    @pytest.fixture
    def cluster_config(self) -> ClusterConfig:
        """Override: the cluster deployed by the lifecycle test."""
        return ClusterConfig(name="conformance")

    @pytest.fixture
    def workspace_toml(self) -> str:
        """Override: more of ``provisioning.toml`` (e.g. ``[taskservs.x]`` tables)."""
        return ""

    @pytest.fixture
    def cluster_workspace(
        self, cluster_config: ClusterConfig, workspace_toml: str, prov_workspace: Path
    ) -> str:
        """Writes ``[clusters.<name>]`` for ``cluster_config``; the cluster's name."""
        table = {
            key: value
            for key, value in unstructure(cluster_config).items()
            if key != "name" and value not in (None, [], {})
        }
        text = toml_tables(
            {f"clusters.{json.dumps(cluster_config.name)}": {"type": self.cluster, **table}}
        )
        path = prov_workspace / "provisioning.toml"
        existing = path.read_text(encoding="utf-8") if path.exists() else ""
        path.write_text(existing + workspace_toml + "\n" + text, encoding="utf-8")
        return cluster_config.name

    def test_description_is_well_formed(self, cluster_config: ClusterConfig) -> None:
        extension = _load(self.hook_timeout, ExtensionType.CLUSTER, self.cluster)
        components: list[Component] = []
        if extension.implements("cluster_info"):
            info = extension.call("cluster_info")
            assert info.name == self.cluster, _broke(
                self.cluster,
                "cluster_info",
                "the name must be the entry-point name",
                f"got {info.name!r}",
            )
            components = list(info.components)
            known = {c.name for c in components}
            for version, pins in info.versions.items():
                unknown = sorted(set(pins) - known)
                assert not unknown, _broke(
                    self.cluster,
                    "cluster_info",
                    "cluster versions pin only components the cluster has",
                    f"version {version!r} pins {unknown}",
                )
        if extension.implements("list_components"):
            components = list(extension.call("list_components", config=cluster_config))
        assert components or extension.implements("create"), _broke(
            self.cluster,
            "cluster_info",
            "describe components (cluster_info/list_components) or implement create",
        )
        self._check_components(components)

    def _check_components(self, components: list[Component]) -> None:
        names = [c.name for c in components]
        assert len(set(names)) == len(names), _broke(
            self.cluster, "list_components", "component names are unique", f"got {names}"
        )
        for component in components:
            unknown = sorted(set(component.depends_on) - set(names))
            assert not unknown, _broke(
                self.cluster,
                "list_components",
                "depends_on names components of the cluster",
                f"{component.name} depends on {unknown}",
            )
            assert component.replicas >= 1, _broke(
                self.cluster, "list_components", "replicas is at least 1", repr(component)
            )
        graph = {c.name: list(c.depends_on) for c in components}
        try:
            dependency_waves(graph)
        except DependencyCycleError as exc:
            pytest.fail(
                _broke(self.cluster, "list_components", "dependencies form no cycle", str(exc))
            )

    def test_lifecycle(
        self, cluster_workspace: str, cluster_config: ClusterConfig, backend_picture: Snapshot
    ) -> None:
        """create --check (changes nothing) -> create -> status -> delete -> status."""
        name = cluster_workspace
        described = {c.name for c in self._components(cluster_config)}
        before, pictured = self._status(name), backend_picture()
        planned = self._prov("cluster", "create", name, "--check")
        pictured_after = backend_picture()
        assert pictured_after == pictured, _broke(
            self.cluster,
            "create",
            "with check=True no mutating request may reach the backend",
            f"before {pictured}, after {pictured_after}",
        )
        assert self._status(name) == before, _broke(
            self.cluster, "create", "with check=True nothing may be deployed"
        )
        assert planned.get("check") is True, _broke(
            self.cluster, "create", "prov cluster create --check reports a plan", repr(planned)
        )
        self._prov("cluster", "create", name, "--wait")
        try:
            status = self._wait(
                (self.cluster, "create", "a created cluster's status becomes running or healthy"),
                lambda: self._status(name),
                lambda s: s["status"] in {"running", "ready", "healthy"},
            )
            listed = {c["name"] for c in status["components"]}
            assert described <= listed, _broke(
                self.cluster,
                "status",
                "a deployed cluster's status lists every component it describes",
                f"described {sorted(described)}, status lists {sorted(listed)}",
                anchor="status-1",
            )
        finally:
            self._prov("cluster", "delete", name, "--wait")
        after = self._status(name)
        assert after["status"] in {"absent", "deleted"}, _broke(
            self.cluster,
            "status",
            'a deleted cluster is "absent" or "deleted"',
            repr(after),
            anchor="status-1",
        )

    def _components(self, config: ClusterConfig) -> list[Component]:
        """The components deployed: the config's, else the plugin's (none: it only creates)."""
        if config.components:
            return list(config.components)
        extension = _load(self.hook_timeout, ExtensionType.CLUSTER, self.cluster)
        if extension.implements("list_components"):
            return list(extension.call("list_components", config=config))
        if extension.implements("cluster_info"):
            return list(extension.call("cluster_info").components)
        return []

    def _status(self, name: str) -> dict[str, Any]:
        status: dict[str, Any] = self._prov("cluster", "status", name)
        return status

    def _prov(self, *args: str) -> Any:
        result: ProvResult = run_prov(*args, "-o", "json")
        assert result.exit_code == 0, (
            f"{self.cluster}: `prov {' '.join(args)}` exited {result.exit_code}:\n{result.output}"
        )
        return result.json()
