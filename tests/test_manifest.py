"""The seed's metadata.toml (and the same tables in extension.toml), read without importing."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from provisioning_core import (
    ConfigError,
    Discovery,
    ExtensionManager,
    IncompatibleExtension,
    __version__,
    register_extension,
)
from provisioning_core.models import ExtensionManifest

from .conftest import DIRS

SEED = DIRS / "seed-provider"  # metadata.toml copied exactly from the seed document


def test_the_seeds_metadata_toml_is_read_section_by_section():
    (meta,) = register_extension(SEED, "provider")
    assert (meta.name, meta.version, meta.extension_type.value) == (
        "my-provider",
        "1.0.0",
        "provider",
    )
    (ext,) = Discovery().candidates("provider", "my-provider")
    assert ext.description == "Custom cloud provider integration"
    assert ext.author == "Your Name <your.email@example.com>"
    assert ext.target == "my_provider"  # no module in the seed's file: the name, in Python
    assert ext.requires_core == ">=2.0.0"
    assert ext.manifest == ExtensionManifest(
        license="MIT",
        compatibility={
            "provisioning_version": ">=2.0.0",
            "nushell_version": ">=0.107.0",
            "kcl_version": ">=0.11.0",
        },
        capabilities={
            "server_management": True,
            "load_balancer": False,
            "storage_encryption": True,
            "backup": True,
            "monitoring": False,
        },
        auth_methods=["api_key", "certificate"],
        required_auth=["api_key", "api_secret"],
        default_region="us-east-1",
        regions=["us-east-1", "us-west-2", "eu-west-1"],
        support={
            "documentation": "https://docs.example.com/provider",
            "issues": "https://github.com/example/provider/issues",
        },
    )
    assert ext.warnings == []  # every table and key of the seed's example is known


def test_provisioning_version_is_enforced_like_requires_core():
    register_extension(SEED, "provider")
    (ext,) = Discovery().candidates("provider", "my-provider")
    assert ext.status == "incompatible"
    assert ext.reason == (
        f"it needs provisioning-core>=2.0.0 but provisioning-core {__version__} is running"
    )
    with pytest.raises(IncompatibleExtension) as err:
        ExtensionManager().load_extension("provider", "my-provider")
    assert "my-provider" in str(err.value)
    assert "provisioning_version" in str(err.value)  # the hint names the key to change


def test_nushell_and_kcl_versions_are_recorded_not_enforced(tmp_path):
    root = shutil.copytree(DIRS / "seedprov", tmp_path / "seedprov")
    manifest = root / "metadata.toml"
    manifest.write_text(
        manifest.read_text()
        .replace('nushell_version = ">=0.107.0"', 'nushell_version = ">=999"')
        .replace('kcl_version = ">=0.11.0"', 'kcl_version = "<0.0.1"')
    )
    register_extension(root, "provider")
    (ext,) = Discovery().candidates("provider", "seedprov")
    assert (ext.status, ext.warnings) == ("ok", [])
    assert ext.manifest is not None
    assert ext.manifest.compatibility["nushell_version"] == ">=999"
    loaded = ExtensionManager().load_extension("provider", "seedprov")
    assert loaded.discovered.manifest == ext.manifest


def test_a_seed_directory_loads_and_runs_without_a_module_key():
    register_extension(DIRS / "seedprov", "provider")
    ext = ExtensionManager().load_extension("provider", "seedprov")
    assert ext.path == (DIRS / "seedprov").resolve()
    assert ext.call("list_servers") == []


def test_unknown_tables_and_keys_are_warnings_and_strict_refuses_them(monkeypatch):
    register_extension(DIRS / "unknownsections", "taskserv")
    (ext,) = Discovery().candidates("taskserv", "unknownsections")
    file = (DIRS / "unknownsections" / "metadata.toml").resolve()
    assert ext.status == "ok"
    assert len(ext.warnings) == 3
    assert ext.warnings[0].startswith(f"{file}: unknown key 'maintainer' in [extension] is ignored")
    assert ext.warnings[1].startswith(
        f"{file}: unknown key 'python_version' in [compatibility] is ignored"
    )
    assert ext.warnings[2].startswith(f"{file}: unknown table [marketplace] is ignored")
    assert ExtensionManager(strict=False).load_extension("taskserv", "unknownsections")
    monkeypatch.setenv("PROV_STRICT", "1")
    with pytest.raises(Exception, match=r"strict mode \(PROV_STRICT\) refuses its warnings") as err:
        ExtensionManager().load_extension("taskserv", "unknownsections")
    assert "[marketplace]" in str(err.value)


def test_bad_types_name_the_file_and_each_path(tmp_path):
    root = tmp_path / "odd"
    root.mkdir()
    (root / "metadata.toml").write_text(
        'support = "https://example.invalid"\n'
        '[extension]\nname = "odd"\nversion = 1\ntype = "taskserv"\n'
        "[compatibility]\nkcl_version = 0.11\n"
        '[capabilities]\nbackup = "yes"\n'
        '[authentication]\nmethods = "api_key"\nrequired_fields = ["api_key", 3]\n'
        "[regions]\ndefault = []\n"
    )
    with pytest.raises(ConfigError) as err:
        register_extension(root, "taskserv")
    assert str(root / "metadata.toml") in err.value.message
    assert err.value.problems == [
        "expected a table, got str @ $.support",
        "expected str, got int @ $.extension.version",
        "expected str, got float @ $.compatibility.kcl_version",
        "expected true or false, got str @ $.capabilities.backup",
        "expected a list, got str @ $.authentication.methods",
        "expected str, got int @ $.authentication.required_fields[1]",
        "expected str, got list @ $.regions.default",
    ]
    assert err.value.exit_code == 2


def test_the_same_tables_are_read_from_extension_toml(tmp_path):
    root = shutil.copytree(DIRS / "mytask", tmp_path / "mytask")
    manifest = root / "extension.toml"
    manifest.write_text(
        manifest.read_text()
        + '\n[compatibility]\nkcl_version = ">=0.11"\n[support]\nissues = "https://x.invalid"\n'
        "[extras]\nx = 1\n"
    )
    (root / "metadata.toml").write_text('[extension]\nname = "other"\nversion = "9"\n')
    register_extension(root, "taskserv")
    (ext,) = Discovery().candidates("taskserv", "mytask")
    assert ext.manifest is not None
    assert ext.manifest.compatibility == {"kcl_version": ">=0.11"}
    assert ext.manifest.support == {"issues": "https://x.invalid"}
    assert any("unknown table [extras]" in w for w in ext.warnings)
    assert any("metadata.toml is ignored" in w for w in ext.warnings)
    assert Discovery().candidates("taskserv", "other") == []


def test_the_core_requirement_given_twice_is_refused(tmp_path):
    root = shutil.copytree(DIRS / "mytask", tmp_path / "mytask")
    manifest = root / "extension.toml"
    manifest.write_text(
        manifest.read_text() + '\n[compatibility]\nprovisioning_version = ">=0.1"\n'
    )
    with pytest.raises(ConfigError) as err:
        register_extension(root, "taskserv")
    assert any("given twice" in p for p in err.value.problems)


def test_a_directory_with_no_manifest_names_all_three_files(tmp_path):
    with pytest.raises(ConfigError) as err:
        register_extension(tmp_path, "taskserv")
    assert "none of extension.toml, metadata.toml or pyproject.toml" in err.value.message


def test_reading_a_manifest_imports_nothing():
    register_extension(DIRS / "seedprov", "provider")
    script = (
        "import sys\n"
        "from provisioning_core import Discovery\n"
        "found = Discovery().resolve('provider', 'seedprov')\n"
        "print(found.manifest.capabilities['backup'], "
        "sorted(m for m in sys.modules if 'seedprov' in m))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["True", "[]"]
