"""Extensions registered from a directory: persisted, discovered, loaded, removed."""

from __future__ import annotations

import json
import shutil

import pytest

from provisioning_core import (
    ConfigError,
    Discovery,
    ExtensionManager,
    ExtensionNotFound,
    list_registered_extensions,
    register_extension,
    unregister_extension,
)

from .conftest import DIRS, DISTS


def test_register_list_load_unregister(installed, prov_home):
    (meta,) = register_extension(DIRS / "mytask", "taskserv")
    assert (meta.name, meta.version, meta.dependencies) == ("mytask", "0.3.0", ["containerd>=1.0"])
    (entry,) = list_registered_extensions()
    assert entry.path == str((DIRS / "mytask").resolve())
    assert list_registered_extensions("provider") == []
    stored = json.loads((prov_home / "extensions" / "registered.json").read_text())
    assert stored[0]["kind"] == "taskserv"

    ext = ExtensionManager().load_extension("taskserv", "mytask")
    assert ext.discovered.source == "directory"
    assert ext.path == (DIRS / "mytask" / "mytask").resolve()
    result = ext.call("install", version="2.0", check=True)
    assert result.actions == ["download mytask 2.0", "start mytask"]  # relative import worked

    unregister_extension("mytask", "taskserv")
    assert list_registered_extensions() == []
    with pytest.raises(ExtensionNotFound):
        Discovery().resolve("taskserv", "mytask")
    with pytest.raises(ExtensionNotFound, match="no registered directory provides it"):
        unregister_extension("mytask", "taskserv")


def test_registering_twice_keeps_one_entry():
    register_extension(DIRS / "mytask", "taskserv")
    register_extension(DIRS / "mytask", "taskserv")
    assert len(list_registered_extensions()) == 1


def test_bad_manifests_are_refused_with_each_problem():
    with pytest.raises(ConfigError) as err:
        register_extension(DIRS / "badmanifest", "taskserv")
    message = str(err.value)
    assert "is not a valid extension manifest" in message
    assert "required field missing @ $.extension.version" in message
    assert "required field missing @ $.extension.module" in message
    assert "declares kind 'provider', registered as 'taskserv' @ $.extension.kind" in message
    assert "expected a list, got str @ $.extension.dependencies" in message
    assert err.value.exit_code == 2
    with pytest.raises(ConfigError, match="does not exist"):
        register_extension(DIRS / "nowhere", "taskserv")
    with pytest.raises(ConfigError, match="unknown extension kind 'widget'"):
        register_extension(DIRS / "mytask", "widget")
    assert list_registered_extensions() == []


def test_a_plugin_project_directory_registers_from_its_pyproject(installed, tmp_path):
    project = shutil.copytree(DISTS / "good", tmp_path / "good")
    (meta,) = register_extension(project, "provider")
    assert (meta.name, meta.version) == ("fixture", "1.0.0")
    discovery = Discovery()
    candidates = discovery.candidates("provider", "fixture")
    # equal versions: the registered directory wins over the installed distribution
    assert [(c.source, c.status) for c in candidates] == [
        ("directory", "ok"),
        ("entry-point", "shadowed"),
        ("entry-point", "ok"),
    ]
    assert "same name and version as" in candidates[1].reason
    ext = ExtensionManager().load_extension("provider", "fixture")
    assert ext.discovered.source == "directory"
    assert ext.path == project / "prov_fixture_good"
    assert not ext.path.is_relative_to(installed)


def test_a_vanished_directory_is_reported_not_fatal(installed, tmp_path):
    moved = shutil.copytree(DIRS / "mytask", tmp_path / "mytask")
    register_extension(moved, "taskserv")
    shutil.rmtree(moved)
    discovery = Discovery()
    assert discovery.resolve("provider", "fixture")
    assert any("does not exist" in p for p in discovery.problems)


def test_a_corrupt_registry_says_which_file(prov_home):
    path = prov_home / "extensions" / "registered.json"
    path.parent.mkdir(parents=True)
    path.write_text("[{")
    with pytest.raises(ConfigError) as err:
        list_registered_extensions()
    assert str(path) in str(err.value)
    discovery = Discovery()  # discovery reports it and carries on
    assert discovery.all() is not None
    assert any(str(path) in p for p in discovery.problems)


def test_two_directories_with_similar_names_never_share_code(tmp_path):
    for name, answer in (("my-svc", "dash"), ("my_svc", "underscore")):
        root = tmp_path / name
        root.mkdir()
        (root / "extension.toml").write_text(
            f'[extension]\nname = "{name}"\nversion = "1.0"\nmodule = "svc"\nrequires-core = ">=0.1"\n'
        )
        (root / "svc.py").write_text(
            "from provisioning_core import hookimpl\n"
            f"@hookimpl\ndef install(check):\n    return {{'changed': False, 'message': '{answer}'}}\n"
            "@hookimpl\ndef uninstall(check):\n    return {'changed': False}\n"
            "@hookimpl\ndef status(server):\n    return {'name': 'x', 'installed': False}\n"
        )
        register_extension(root, "taskserv")
    manager = ExtensionManager()
    for name, answer in (("my-svc", "dash"), ("my_svc", "underscore")):
        ext = manager.load_extension("taskserv", name)
        assert ext.call("install", check=True).message == answer


def test_reload_reads_changed_code_even_after_clear_cache(installed, tmp_path):
    root = shutil.copytree(DIRS / "mytask", tmp_path / "mytask")
    register_extension(root, "taskserv")
    manager = ExtensionManager()
    before = manager.load_extension("taskserv", "mytask").call("install", version="1", check=True)
    assert before.actions[0] == "download mytask 1"
    steps = root / "mytask" / "steps.py"
    steps.write_text(steps.read_text().replace("download", "fetch"))
    manager.clear_cache()
    after = manager.reload_extension("taskserv", "mytask").call("install", version="1", check=True)
    assert after.actions[0] == "fetch mytask 1"


def test_odd_types_in_a_registered_manifest_are_reported_not_fatal(installed, tmp_path):
    root = shutil.copytree(DIRS / "mytask", tmp_path / "mytask")
    register_extension(root, "taskserv")
    manifest = root / "extension.toml"
    manifest.write_text(
        manifest.read_text().replace('requires-core = ">=0.1"', "requires-core = 1")
    )
    discovery = Discovery()
    assert discovery.resolve("provider", "fixture")
    assert any("expected str, got int @ $.extension.requires-core" in p for p in discovery.problems)


def test_an_odd_pyproject_is_a_config_error(tmp_path):
    (tmp_path / "pyproject.toml").write_text("project = 5\n")
    with pytest.raises(ConfigError, match="has an unexpected shape"):
        register_extension(tmp_path, "provider")
