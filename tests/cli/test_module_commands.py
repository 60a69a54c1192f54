"""``prov module discover|load|unload|list`` and ``[orchestrator.extensions]`` (auto_load, cache_dir)."""

from __future__ import annotations

import json
from pathlib import Path

from provisioning_core.runtime.steps import download_cache

from .conftest import FAST

DIRS = Path(__file__).parents[1] / "fixtures" / "dirs"

NO_AUTO_LOAD = FAST + "\n[orchestrator.extensions]\nauto_load = false\n"
PLANS = ("server", "plans", "-p", "recording", "-o", "json")


def test_with_auto_load_false_a_command_needs_an_explicit_load(prov_process, workspace):
    workspace(NO_AUTO_LOAD)
    refused = prov_process(*PLANS)
    assert refused.returncode == 2, refused.stderr
    assert "provider 'recording': is not loaded" in refused.stderr
    assert "auto_load is false" in refused.stderr
    assert "prov module load provider recording" in refused.stderr
    assert "Traceback" not in refused.stderr

    loaded = prov_process("module", "load", "provider", "recording", "-o", "json")
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout)["version"] == "1.0.0"
    # another process: the load was recorded in the cache dir
    plans = prov_process(*PLANS)
    assert plans.returncode == 0, plans.stderr
    listed = json.loads(prov_process("module", "list", "-o", "json").stdout)["loaded"]
    assert [(r["kind"], r["name"], r["version"]) for r in listed] == [
        ("provider", "recording", None)
    ]

    assert prov_process("module", "unload", "provider", "recording").returncode == 0
    assert prov_process(*PLANS).returncode == 2
    again = prov_process("module", "unload", "provider", "recording")
    assert again.returncode == 2
    assert "provider 'recording' is not loaded" in again.stderr


def test_a_version_given_to_module_load_is_pinned(prov, workspace):
    workspace(NO_AUTO_LOAD)
    missing = prov("module", "load", "provider", "recording", "--version", "9.9")
    assert missing.exit_code == 2
    assert "version 9.9 is not available (available: 1.0.0)" in missing.stderr
    assert prov("module", "list", "-o", "json").json()["loaded"] == []  # nothing recorded
    assert prov("module", "load", "provider", "recording", "--version", "1.0.0").exit_code == 0
    (row,) = prov("module", "list", "-o", "json").json()["loaded"]
    assert row["version"] == "1.0.0"
    assert prov(*PLANS).exit_code == 0


def test_auto_load_true_needs_no_load(prov, workspace):
    workspace(FAST)
    assert prov(*PLANS).exit_code == 0
    assert prov("module", "list", "-o", "json").json()["loaded"] == []


def test_cache_dir_moves_the_scan_cache_records_and_downloads(prov, workspace, tmp_path, prov_home):
    cache = tmp_path / "elsewhere" / "cache"
    workspace(FAST + f'\n[orchestrator.extensions]\ncache_dir = "{cache}"\n')
    assert prov("plugin", "list", "-o", "json").exit_code == 0
    assert len(list(cache.glob("scan-*"))) == 1
    assert not list((prov_home / "extensions").glob("scan-*"))
    assert prov("module", "load", "provider", "recording").exit_code == 0
    assert (cache / "loaded.json").is_file()
    assert not (prov_home / "extensions" / "loaded.json").exists()
    assert download_cache() == cache / "downloads"  # this process ran prov with that setting


def test_the_default_cache_dir_keeps_everything_where_it_was(prov, workspace, prov_home):
    workspace(FAST)
    assert prov("plugin", "list", "-o", "json").exit_code == 0
    assert len(list((prov_home / "extensions").glob("scan-*"))) == 1
    assert download_cache() == prov_home / "cache" / "downloads"


def test_a_bad_cache_dir_is_exit_2_naming_the_setting_and_plugin_list_still_works(prov, workspace):
    workspace('[orchestrator.extensions]\ncache_dir = "not/absolute"\n')
    loaded = prov("module", "load", "provider", "recording")
    assert loaded.exit_code == 2
    assert "@ $.orchestrator.extensions.cache_dir" in loaded.stderr
    assert "Traceback" not in loaded.stderr
    listed = prov("plugin", "list", "-o", "json")
    assert listed.exit_code == 0
    assert "the default extension settings are used" in listed.stderr


def test_module_discover_name_prints_the_guides_metadata(prov):
    shown = prov("module", "discover", "provider", "--name", "recording", "-o", "json")
    assert shown.exit_code == 0, shown.output
    assert shown.json() == {
        "name": "recording",
        "version": "1.0.0",
        "description": "Fixture plugins that keep real state in a JSON file and record every "
        "hook call",
        "extension_type": "provider",
        "dependencies": [],
        "author": "Fixture Author <author@example.invalid>",
        "repository": "https://example.invalid/prov-fixture-recording",
    }
    assert list(shown.json()) == [
        "name",
        "version",
        "description",
        "extension_type",
        "dependencies",
        "author",
        "repository",
    ]
    kube = prov("module", "discover", "taskserv", "--name", "kubernetes", "-o", "json").json()
    assert kube["dependencies"] == [
        "prov-fixture-containerd>=1.6",
        "provisioning-taskserv-etcd<4,>=3.5",
    ]
    assert "Fixture Author" in kube["author"]
    missing = prov("module", "discover", "provider", "--name", "recordin")
    assert missing.exit_code == 2
    assert "did you mean recording" in missing.stderr


def test_module_discover_lists_every_usable_extension_of_a_type(prov):
    listed = prov("module", "discover", "provider", "-o", "json")
    assert listed.exit_code == 0
    rows = listed.json()["extensions"]
    names = [r["name"] for r in rows]
    assert "recording" in names
    assert "incompatible" not in names  # cannot be loaded: a warning says why
    assert "provider incompatible 2.0.0 is incompatible: it needs provisioning-core>=99" in (
        listed.stderr
    )
    assert all(r["extension_type"] == "provider" for r in rows)
    assert all(len(r) == 7 for r in rows)


def test_module_discover_shows_a_seed_directory(prov):
    assert prov("plugin", "list").exit_code == 0
    from provisioning_core import register_extension

    register_extension(DIRS / "seedprov", "provider")
    shown = prov("module", "discover", "provider", "--name", "seedprov", "-o", "json").json()
    assert shown["author"] == "Seed Author <seed@example.invalid>"
    assert shown["version"] == "1.2.0"


def test_plugin_info_shows_the_seeds_tables(prov):
    from provisioning_core import register_extension

    register_extension(DIRS / "seedprov", "provider")
    (info,) = prov("plugin", "info", "seedprov", "-o", "json").json()["plugins"]
    assert info["manifest"]["capabilities"]["server_management"] is True
    assert info["manifest"]["regions"] == ["us-east-1", "us-west-2", "eu-west-1"]
    assert "create_server" in info["hooks"]


def test_module_load_refuses_a_version_that_is_no_version_naming_the_option(prov):
    for version in ("", "1.0; rm -rf ~", "../1.0.0"):
        refused = prov("module", "load", "provider", "recording", "--version", version)
        assert refused.exit_code == 2, refused.output
        assert f"invalid version {version!r}" in refused.stderr
        assert "expected a version such as 1.0.0 @ --version" in refused.stderr
