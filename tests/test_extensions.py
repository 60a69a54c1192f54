"""ExtensionManager: loading, caching, the failure of each broken plugin, hook calls."""

from __future__ import annotations

import sys
from datetime import timezone

import pytest

from provisioning_core import (
    CapabilityNotSupported,
    Extension,
    ExtensionLoadError,
    ExtensionManager,
    ExtensionNotFound,
    ExtensionType,
    IncompatibleExtension,
    MissingDependency,
    PluginCallError,
    ProviderSettings,
    ProvisioningError,
    Server,
    ServerConfig,
    ServerNotFound,
    ServerStatus,
    TransientError,
    hookimpl,
    validate_extension,
)

SETTINGS = ProviderSettings("fixture")


class RequiredHooks:
    """The seven required provider hooks, working; tests subclass it to change one."""

    @hookimpl
    def create_server(self, config):
        return {"id": "1", "hostname": config.hostname, "status": "creating"}

    @hookimpl
    def delete_server(self, server_id):
        return None

    @hookimpl
    def list_servers(self):
        return []

    @hookimpl
    def get_server_info(self, server_id):
        return {"id": server_id, "hostname": "h", "status": "running"}

    @hookimpl
    def start_server(self, server_id):
        return None

    @hookimpl
    def stop_server(self, server_id):
        return None

    @hookimpl
    def reboot_server(self, server_id):
        return None


def test_manager_needs_no_arguments_and_loads_a_plugin(installed):
    manager = ExtensionManager()
    ext = manager.load_extension("provider", "fixture")
    assert isinstance(ext, Extension)
    assert ext.metadata.name == "fixture"
    assert ext.metadata.version == "1.0.0"
    assert ext.metadata.extension_type is ExtensionType.PROVIDER
    assert ext.path == installed / "prov_fixture_good"
    assert ext.loaded_at.tzinfo is timezone.utc
    registered = ext.plugin_manager.get_plugin("provider:fixture")
    assert registered.create_server.__module__ == "prov_fixture_good.provider"


def test_cache_hits_and_metrics(installed):
    manager = ExtensionManager()
    first = manager.load_extension(ExtensionType.PROVIDER, "fixture")
    assert manager.load_extension("provider", "fixture") is first
    assert manager.load_extension("provider", "fixture", "1.0.0") is first
    metrics = manager.metrics
    assert (metrics.total_extension_loads, metrics.cache_hits, metrics.cold_loads) == (3, 2, 1)
    assert metrics.hit_ratio == pytest.approx(2 / 3)
    assert manager.is_extension_loaded("provider", "fixture")
    assert not manager.is_extension_loaded("taskserv", "fixture")
    assert manager.list_loaded_extensions() == [first]
    manager.clear_cache()
    assert not manager.is_extension_loaded("provider", "fixture")
    assert manager.load_extension("provider", "fixture") is not first
    assert manager.metrics.cold_loads == 2


def test_versions_highest_by_default_and_explicit_on_request(installed):
    manager = ExtensionManager()
    assert manager.load_extension("provider", "fixture").version == "1.0.0"
    older = manager.load_extension("provider", "fixture", version="0.5.0")
    assert older.version == "0.5.0"
    assert older.discovered.distribution == "prov-fixture-dup"
    with pytest.raises(ExtensionNotFound) as err:
        manager.load_extension("provider", "fixture", version="3.0")
    assert "version 3.0 is not available (available: 1.0.0, 0.5.0)" in str(err.value)


def test_lru_cache_evicts_least_recently_used(installed):
    manager = ExtensionManager(cache_size=2)
    a = manager.load_extension("taskserv", "containerd")
    manager.load_extension("cluster", "buildkit")
    manager.load_extension("taskserv", "containerd")  # a is now most recent
    manager.load_extension("provider", "fixture")
    assert manager.is_extension_loaded("taskserv", "containerd")
    assert not manager.is_extension_loaded("cluster", "buildkit")
    assert manager.load_extension("taskserv", "containerd") is a


def test_reload_reimports_the_code(installed):
    manager = ExtensionManager()
    first = manager.load_extension("provider", "fixture")
    module = sys.modules["prov_fixture_good.provider"]
    second = manager.reload_extension("provider", "fixture")
    assert second is not first
    assert sys.modules["prov_fixture_good.provider"] is not module
    assert second.loaded_at >= first.loaded_at
    assert manager.load_extension("provider", "fixture") is second


def test_class_entry_point_is_instantiated(installed):
    ext = ExtensionManager().load_extension("cluster", "buildkit")
    assert type(ext.plugin).__name__ == "BuildkitCluster"
    assert ext.implements("create")
    assert not ext.implements("scale")


@pytest.mark.parametrize(
    ("name", "error", "expected"),
    [
        (
            "broken-import",
            ExtensionLoadError,
            "cannot be imported from 'prov_fixture_broken.broken_import': ModuleNotFoundError",
        ),
        (
            "exits",
            ExtensionLoadError,
            "cannot be imported from 'prov_fixture_broken.exits': SystemExit: 3",
        ),
        (
            "misspelled",
            ExtensionLoadError,
            "hook 'create_sever' is not a provider hook; did you mean 'create_server'?",
        ),
        (
            "bad-args",
            ExtensionLoadError,
            "hook 'create_server' takes 'cfg', which its spec lacks; it may take any of: settings, config, check",
        ),
        ("missing-required", ExtensionLoadError, "required hook 'list_servers' is not implemented"),
        (
            "incompatible",
            IncompatibleExtension,
            "it needs provisioning-core>=99 but provisioning-core 0.1.0 is running",
        ),
        (
            "bad-target",
            ExtensionLoadError,
            "entry point 'prov_fixture_broken.raising:no-such-attr!' is not",
        ),
    ],
)
def test_each_broken_plugin_fails_clearly_and_the_next_load_works(installed, name, error, expected):
    manager = ExtensionManager()
    with pytest.raises(error) as err:
        manager.load_extension("provider", name)
    message = str(err.value)
    assert expected in message
    assert f"provider {name!r} (" in message  # names the plugin ...
    assert err.value.distribution in message  # ... its distribution ...
    assert err.value.version in message  # ... and version
    assert "hint: " in message  # and what to do
    assert err.value.name == name
    assert manager.metrics.failed_loads == 1
    assert manager.load_extension("provider", "fixture").name == "fixture"


def test_missing_dependencies_are_all_listed(installed):
    manager = ExtensionManager()
    with pytest.raises(MissingDependency) as err:
        manager.load_extension("taskserv", "kubernetes")
    assert err.value.missing == [
        "prov-fixture-containerd>=1.6 (available: 1.5.0)",
        "provisioning-taskserv-etcd<4,>=3.5 (not installed)",
    ]
    assert "prov-fixture-kubernetes 1.5.0" in str(err.value)
    assert "pip install 'prov-fixture-containerd>=1.6' 'provisioning-taskserv-etcd<4,>=3.5'" in str(
        err.value
    )
    assert manager.load_extension("taskserv", "buildkit").name == "buildkit"
    # cluster dependencies are taskservs
    assert manager.available_dependencies(ExtensionType.CLUSTER)["containerd"] == ["1.5.0"]


def test_a_disabled_dependency_is_not_called_missing(installed, monkeypatch):
    monkeypatch.setenv("PROV_DISABLE_PLUGINS", "containerd")
    with pytest.raises(MissingDependency) as err:
        ExtensionManager().load_extension("taskserv", "buildkit")
    assert err.value.missing == [
        "prov-fixture-containerd>=1.0 (installed but disabled: listed in PROV_DISABLE_PLUGINS)"
    ]


def test_disabled_plugin_says_how_to_enable_it(installed, monkeypatch):
    monkeypatch.setenv("PROV_DISABLE_PLUGINS", "fixture")
    with pytest.raises(ExtensionNotFound) as err:
        ExtensionManager().load_extension("provider", "fixture")
    assert "is disabled (listed in PROV_DISABLE_PLUGINS)" in str(err.value)


def test_strict_mode_turns_warnings_into_errors(installed, monkeypatch):
    assert ExtensionManager().load_extension("provider", "nocore")
    assert ExtensionManager().load_extension("provider", "unmarked")
    monkeypatch.setenv("PROV_STRICT", "1")
    with pytest.raises(ExtensionLoadError, match="declares no provisioning-core requirement"):
        ExtensionManager().load_extension("provider", "nocore")
    with pytest.raises(
        ExtensionLoadError, match=r"get_plans\(\) has the name of a hook but no @hookimpl"
    ):
        ExtensionManager().load_extension("provider", "unmarked")


def test_unknown_kind_is_bad_input(installed):
    with pytest.raises(ProvisioningError) as err:
        ExtensionManager().load_extension("widget", "fixture")
    assert err.value.exit_code == 2
    assert "use one of: provider, taskserv, cluster" in str(err.value)


def test_hook_calls_structure_results_and_keep_plugin_errors(installed):
    ext = ExtensionManager().load_extension("provider", "fixture")
    config = ServerConfig("web-1", "small", "here", tags={"env": "test"})
    server = ext.call("create_server", settings=SETTINGS, config=config, check=False)
    assert isinstance(server, Server)  # the plugin returned a dict
    assert server.status is ServerStatus.RUNNING
    assert server.tags == {"env": "test"}
    assert ext.call("get_server_info", settings=SETTINGS, server_id=server.id) == server
    plans = ext.call("get_plans", settings=SETTINGS)
    assert [p.name for p in plans] == ["small", "large"]
    ext.call("delete_server", settings=SETTINGS, server_id=server.id)
    with pytest.raises(ServerNotFound):
        ext.call("get_server_info", settings=SETTINGS, server_id=server.id)
    assert ext.accepts("create_server", "check")
    assert not ext.accepts("delete_server", "check")


def test_missing_optional_hook_is_a_capability_message(installed):
    ext = ExtensionManager().load_extension("provider", "fixture")
    assert "configure_firewall" in ext.unsupported
    with pytest.raises(CapabilityNotSupported) as err:
        ext.call("configure_firewall", settings=SETTINGS, server_id="x", rules=[])
    assert "provider 'fixture' (prov-fixture-good 1.0.0): does not support firewall rules" in str(
        err.value
    )
    assert err.value.hook == "configure_firewall"
    with pytest.raises(ValueError, match="no provider hook is called 'launch'"):
        ext.call("launch")


def test_malformed_results_and_raising_hooks_name_the_plugin(installed):
    manager = ExtensionManager()
    malformed = manager.load_extension("provider", "malformed")
    with pytest.raises(PluginCallError) as err:
        malformed.call("get_server_info", settings=SETTINGS, server_id="s1")
    message = str(err.value)
    assert "provider 'malformed' (prov-fixture-broken 1.0.0)" in message
    assert "invalid value 'exploded', expected one of: creating, running" in message
    assert "@ $.status" in message
    assert "extra fields found (ips) @ $" in message
    with pytest.raises(PluginCallError, match="list_servers returned None; it must return list"):
        malformed.call("list_servers", settings=SETTINGS)
    raising = manager.load_extension("provider", "raising")
    with pytest.raises(PluginCallError) as err:
        raising.call("list_servers", settings=SETTINGS)
    assert "list_servers raised RuntimeError: backend on fire" in str(err.value)
    assert err.value.__cause__ is None  # its message could hold a secret ...
    assert "RuntimeError: backend on fire" in err.value.detail  # ... the masked traceback not
    assert "Traceback" in err.value.detail


def test_interceptors_wrap_every_call_and_can_retry(installed):
    seen = []
    failures = iter([TransientError("busy", retry_after=0.0)])

    def audit(call, proceed):
        seen.append((call.extension.name, call.hook, sorted(call.kwargs)))
        return proceed()

    def retry_once(call, proceed):
        try:
            return proceed()
        except TransientError:
            return proceed()

    def flaky(call, proceed):
        error = next(failures, None)
        if error is not None:
            raise error
        return proceed()

    manager = ExtensionManager(interceptors=[audit, retry_once, flaky])
    ext = manager.load_extension("provider", "fixture")
    assert ext.call("list_servers", settings=SETTINGS) is not None
    assert seen == [("fixture", "list_servers", ["settings"])]


def test_on_load_hears_cold_loads_and_failures(installed):
    events = []
    manager = ExtensionManager(on_load=events.append)
    manager.load_extension("provider", "fixture")
    manager.load_extension("provider", "fixture")
    with pytest.raises(ExtensionLoadError):
        manager.load_extension("provider", "misspelled")
    assert [(e.name, e.error is None) for e in events] == [("fixture", True), ("misspelled", False)]
    assert all(e.seconds >= 0 for e in events)


def test_make_test_instance_checks_hooks_without_scanning():
    class Tiny:
        @hookimpl
        def taskserv_info(self):
            return {"name": "tiny", "version": "1"}

        @hookimpl
        def install(self, check):
            return {"changed": not check}

        @hookimpl
        def uninstall(self):
            return {"changed": True}

        @hookimpl
        def status(self):
            return {"name": "tiny", "installed": True}

    manager = ExtensionManager.make_test_instance({("taskserv", "tiny"): Tiny()})
    ext = manager.load_extension("taskserv", "tiny")
    assert ext.call("install", check=True).changed is False
    assert manager.discovery.all()[0].source == "memory"

    class Broken:
        @hookimpl
        def instal(self):
            return None

    broken = ExtensionManager.make_test_instance({("taskserv", "broken"): Broken()})
    with pytest.raises(ExtensionLoadError) as err:
        broken.load_extension("taskserv", "broken")
    assert "did you mean 'install'?" in str(err.value)
    assert "required hook 'status' is not implemented" in str(err.value)


def test_test_instances_take_hyphenated_names_and_classes():
    class Provider(RequiredHooks):
        pass

    manager = ExtensionManager.make_test_instance({("provider", "my-cloud"): Provider})
    ext = manager.load_extension("provider", "my-cloud")
    assert isinstance(ext.plugin, Provider)
    assert ext.call("list_servers", settings=SETTINGS) == []
    with pytest.raises(TypeError, match=r"missing arguments \['server_id'\]"):
        ext.call("get_server_info", settings=SETTINGS)
    with pytest.raises(TypeError, match=r"unknown arguments \['sever_id'\]"):
        ext.call("get_server_info", settings=SETTINGS, sever_id="x")


@pytest.mark.parametrize("name", ["nasty-module", "nasty-class"])
def test_raising_attributes_and_sys_exit_stay_inside_the_plugin(installed, name):
    ext = ExtensionManager().load_extension("provider", name)
    assert ext.implements("list_servers")
    with pytest.raises(PluginCallError, match="list_servers raised SystemExit: 4"):
        ext.call("list_servers", settings=SETTINGS)
    assert validate_extension(name, "provider").valid


def test_a_plugin_error_never_echoes_a_secret():
    token = "tok-0a1b2c3d4e5f"

    class Leaky(RequiredHooks):
        @hookimpl
        def create_server(self, settings, config):
            raise RuntimeError(
                f"401 from https://api.example/?token={settings.auth.token.reveal()}"
            )

    from provisioning_core import structure

    settings = structure({"name": "leaky", "auth": {"token": token}}, ProviderSettings)
    ext = ExtensionManager.make_test_instance({("provider", "leaky"): Leaky}).load_extension(
        "provider", "leaky"
    )
    with pytest.raises(PluginCallError) as err:
        ext.call(
            "create_server", settings=settings, config=ServerConfig("a", "b", "c"), check=False
        )
    assert token not in str(err.value)
    assert token not in err.value.detail
    assert "token=********" in str(err.value)
