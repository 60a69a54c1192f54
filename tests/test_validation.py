"""validate_extension: five checks, reported rather than raised."""

from __future__ import annotations

import shutil

import pytest

from provisioning_core import ValidationReport, validate_extension

from .conftest import DIRS, DISTS


def test_a_good_plugin_passes_every_check(installed):
    report = validate_extension("fixture", "provider")
    assert isinstance(report, ValidationReport)
    assert report.valid, report.errors
    assert report.checks == dict.fromkeys(
        ["structure", "schema", "interface", "dependency", "version"], "passed"
    )


@pytest.mark.parametrize(
    ("name", "check", "text"),
    [
        (
            "misspelled",
            "interface",
            "hook 'create_sever' is not a provider hook; did you mean 'create_server'?",
        ),
        ("bad-args", "interface", "hook 'create_server' takes 'cfg'"),
        ("missing-required", "interface", "required hook 'list_servers' is not implemented"),
        ("broken-import", "interface", "cannot be imported"),
        ("incompatible", "version", "needs provisioning-core>=99"),
        ("bad-target", "structure", "is not 'module' or 'module:attribute'"),
        ("no-such-plugin", "structure", "is not installed"),
    ],
)
def test_each_problem_is_reported_under_its_check(installed, name, check, text):
    report = validate_extension(name, "provider")
    assert not report.valid
    assert report.checks[check] == "failed"
    assert any(e.startswith(f"{check}: ") and text in e for e in report.errors), report.errors


def test_dependencies_are_checked(installed):
    report = validate_extension("kubernetes", "taskserv")
    assert report.checks["dependency"] == "failed"
    assert "dependency: needs prov-fixture-containerd>=1.6 (available: 1.5.0)" in report.errors
    assert "dependency: needs provisioning-taskserv-etcd<4,>=3.5 (not installed)" in report.errors
    assert report.checks["interface"] == "passed"


def test_warnings_and_strict_mode(installed):
    lenient = validate_extension("unmarked", "provider")
    assert lenient.valid
    assert any("get_plans() has the name of a hook but no @hookimpl" in w for w in lenient.warnings)
    assert lenient.checks["interface"] == "passed"
    strict = validate_extension("unmarked", "provider", strict=True)
    assert not strict.valid
    assert strict.checks["interface"] == "failed"
    assert any(e.endswith("(strict mode)") for e in strict.errors)
    nocore = validate_extension("nocore", "provider")
    assert any(
        w.startswith("version: declares no provisioning-core requirement") for w in nocore.warnings
    )


def test_directories_validate_without_being_installed(installed):
    report = validate_extension(DIRS / "mytask", "taskserv")
    assert report.valid, report.errors
    project = validate_extension(str(DISTS / "broken"), "provider")
    # a project with several providers: each is checked, errors name which
    assert (
        "misspelled: interface: hook 'create_sever' is not a provider hook; did you mean 'create_server'?"
        in project.errors
    )
    assert any(e.startswith("bad-target: structure: entry point") for e in project.errors)
    assert any(e.startswith("exits: interface: ") for e in project.errors)
    assert not any(e.startswith("raising:") for e in project.errors)
    bad = validate_extension(DIRS / "badmanifest", "taskserv")
    assert not bad.valid
    assert len(bad.errors) == 1  # one error holding each problem once
    assert bad.errors[0].count("@ $.extension.version") == 1
    assert "required field missing @ $.extension.version" in bad.errors[0]
    assert bad.checks["structure"] == "failed"
    assert bad.checks["interface"] == "skipped"


def test_a_malformed_info_hook_fails_schema(tmp_path):
    plugin = tmp_path / "badinfo"
    plugin.mkdir()
    (plugin / "extension.toml").write_text(
        '[extension]\nname = "badinfo"\nversion = "1.0"\nmodule = "badinfo"\nrequires-core = ">=0.1"\n'
    )
    (plugin / "badinfo.py").write_text(
        "from provisioning_core import hookimpl\n"
        "@hookimpl\ndef cluster_info():\n    return {'name': 'badinfo'}\n"
        "@hookimpl\ndef create(config, check):\n    return None\n"
        "@hookimpl\ndef delete(config, check):\n    return None\n"
        "@hookimpl\ndef status(config):\n    return None\n"
    )
    report = validate_extension(plugin, "cluster")
    assert report.checks["schema"] == "failed"
    assert any("required field missing @ $.version" in e for e in report.errors), report.errors
    assert any("has no description" in w for w in report.warnings)


def test_an_incompatible_plugin_is_not_imported_by_validation(installed):
    report = validate_extension("incompatible", "provider")
    assert report.checks["version"] == "failed"
    assert report.checks["interface"] == "skipped"
    assert not (installed / "prov_fixture_incompatible" / "provider.py.imported").exists()


def test_a_hook_argument_with_a_default_is_refused(tmp_path):
    plugin = tmp_path / "defaults"
    plugin.mkdir()
    (plugin / "extension.toml").write_text(
        '[extension]\nname = "defaults"\nversion = "1.0"\nmodule = "defaults"\nrequires-core = ">=0.1"\n'
    )
    (plugin / "defaults.py").write_text(
        "from provisioning_core import hookimpl\n"
        "@hookimpl\ndef create(config, check=False):\n    return None\n"
        "@hookimpl\ndef delete(config, check):\n    return None\n"
        "@hookimpl\ndef status(config):\n    return None\n"
    )
    report = validate_extension(plugin, "cluster")
    assert any(
        "hook 'create' gives 'check' a default value; pluggy never passes arguments that have defaults"
        in e
        for e in report.errors
    ), report.errors


def test_a_folder_named_like_a_plugin_does_not_hide_it(installed, tmp_path, monkeypatch):
    (tmp_path / "fixture").mkdir()
    monkeypatch.chdir(tmp_path)
    assert validate_extension("fixture", "provider").valid
    assert not validate_extension("./fixture", "provider").valid


def test_the_seeds_metadata_toml_validates(tmp_path):
    report = validate_extension(DIRS / "seedprov", "provider")
    assert report.valid, report.errors
    assert report.warnings == []
    exact = validate_extension(DIRS / "seed-provider", "provider")  # the seed's own example
    assert exact.checks["version"] == "failed"
    assert any("needs provisioning-core>=2.0.0" in e for e in exact.errors)


def _seedprov(tmp_path, metadata=None, info=None):
    root = shutil.copytree(DIRS / "seedprov", tmp_path / "seedprov")
    for file, changes in (("metadata.toml", metadata or {}), ("seedprov.py", info or {})):
        text = (root / file).read_text()
        for old, new in changes.items():
            assert old in text
            text = text.replace(old, new)
        (root / file).write_text(text)
    return root


def test_capabilities_and_supported_operations_must_match_the_hooks(tmp_path):
    root = _seedprov(
        tmp_path,
        metadata={"server_management = true": "server_management = false"},
        info={
            '"reboot-server",': '"reboot-server",\n            "configure-firewall",',
            '"list-servers",': "",
        },
    )
    report = validate_extension(root, "provider")
    assert report.checks["interface"] == "failed"
    assert (
        "interface: supported_operations names 'configure_firewall', "
        "but no configure_firewall hook is implemented" in report.errors
    )
    assert (
        "interface: implements list_servers but supported_operations does not name them"
        in report.warnings
    )
    assert any(
        w.startswith("interface: [capabilities] server_management = false, but create_server")
        for w in report.warnings
    )


def test_a_declared_capability_without_its_hooks_is_an_error(tmp_path):
    root = _seedprov(tmp_path, info={"@hookimpl\ndef reboot_server": "def reboot_server"})
    report = validate_extension(root, "provider")
    # the contract requires reboot_server too, and the flag says it is there
    assert "interface: required hook 'reboot_server' is not implemented" in report.errors
    root = _seedprov(tmp_path / "t", info={'"create-server",': '"create-servers",'})
    report = validate_extension(root, "provider")
    assert (
        "interface: supported_operations names 'create_servers', which is not a provider "
        "operation; did you mean 'create_server'?" in report.errors
    )


def test_required_auth_fields_must_be_provider_auth_fields(tmp_path):
    root = _seedprov(
        tmp_path,
        metadata={
            'required_fields = ["api_key", "api_secret"]': (
                'required_fields = ["api_key", "certificate_path", "apikey"]'
            ),
            "monitoring = false": "monitoring = false\nmonitor = true",
            'default = "us-east-1"': 'default = "mars-1"',
        },
        info={'"required_auth": ["api_key", "api_secret"]': '"required_auth": ["secret"]'},
    )
    report = validate_extension(root, "provider")
    assert report.checks["schema"] == "failed"
    errors = "\n".join(report.errors)
    assert "[authentication] required_fields names 'apikey'" in errors
    assert "certificate_path" not in errors.split("(")[0]  # accepted
    assert "required_auth names 'secret'" in errors
    assert "[regions] default 'mars-1' is not one of [regions] available" in errors
    (unknown,) = [w for w in report.warnings if "monitor" in w]
    assert unknown.startswith("structure: ")
    assert "unknown key 'monitor' in [capabilities] is ignored (did you mean 'monitoring'?)" in (
        unknown
    )
    strict = validate_extension(root, "provider", strict=True)
    assert any("monitor" in e and e.endswith("(strict mode)") for e in strict.errors)
