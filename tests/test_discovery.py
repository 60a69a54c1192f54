"""Discovery reads metadata only, classifies every extension, and caches its scan."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from provisioning_core import Discovery, ExtensionNotFound, ExtensionType

from .conftest import DISTS, pip_install


def by_name(discovery: Discovery, kind: str) -> dict[str, list]:
    out: dict[str, list] = {}
    for ext in discovery.all(kind):
        out.setdefault(ext.name, []).append(ext)
    return out


def test_finds_every_kind_with_metadata(installed):
    discovery = Discovery()
    providers = by_name(discovery, "provider")
    fixture = providers["fixture"][0]
    assert fixture.version == "1.0.0"
    assert fixture.distribution == "prov-fixture-good"
    assert fixture.source == "entry-point"
    assert fixture.target == "prov_fixture_good.provider"
    assert fixture.requires_core == ">=0.1"
    assert fixture.repository == "https://example.invalid/prov-fixture-good"
    assert "Fixture Author" in (fixture.author or "")
    assert fixture.metadata.extension_type is ExtensionType.PROVIDER
    assert {e.name for e in discovery.all("cluster")} == {
        "buildkit",
        "reccluster",
        "recdeploy",
        "seedcluster",
    }
    kube = by_name(discovery, "taskserv")["kubernetes"][0]
    # Requires-Dist naming plugins; attrs, the core and a Windows-only one are not
    assert kube.dependencies == [
        "prov-fixture-containerd>=1.6",
        "provisioning-taskserv-etcd<4,>=3.5",
    ]


def test_discovery_never_imports_plugin_code(installed, tmp_path):
    script = textwrap.dedent(
        """
        import sys
        from provisioning_core import Discovery, ExtensionManager
        d = Discovery()
        found = d.all()
        d.resolve("provider", "incompatible")
        ExtensionManager().discovery.all()
        imported = sorted(m for m in sys.modules if m.startswith("prov_fixture"))
        print(len(found), imported)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(installed)}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout
    count, imported = out.split(" ", 1)
    assert int(count) > 10
    assert imported.strip() == "[]"
    marker = installed / "prov_fixture_incompatible" / "provider.py.imported"
    assert not marker.exists()


def test_statuses_and_reasons(installed):
    providers = by_name(Discovery(), "provider")
    incompatible = providers["incompatible"][0]
    assert incompatible.status == "incompatible"
    assert "provisioning-core>=99" in incompatible.reason
    assert "0.1.0 is running" in incompatible.reason
    bad_target = providers["bad-target"][0]
    assert bad_target.status == "invalid"
    assert "no-such-attr!" in bad_target.reason
    nocore = providers["nocore"][0]
    assert nocore.status == "ok"
    assert "declares no provisioning-core requirement" in nocore.warnings[0]


def test_same_name_from_two_distributions_is_reported_and_highest_wins(installed):
    discovery = Discovery()
    fixtures = discovery.candidates("provider", "fixture")
    assert [(e.version, e.distribution) for e in fixtures] == [
        ("1.0.0", "prov-fixture-good"),
        ("0.5.0", "prov-fixture-dup"),
    ]
    assert discovery.resolve("provider", "fixture").version == "1.0.0"
    assert discovery.resolve("provider", "fixture", "0.5.0").distribution == "prov-fixture-dup"
    (problem,) = [p for p in discovery.problems if "'fixture'" in p]
    assert "prov-fixture-good 1.0.0" in problem
    assert "prov-fixture-dup 0.5.0" in problem


def test_resolve_errors_name_what_exists(installed):
    discovery = Discovery()
    with pytest.raises(ExtensionNotFound) as err:
        discovery.resolve("provider", "fixtur")
    assert "did you mean fixture" in str(err.value)
    with pytest.raises(ExtensionNotFound) as err:
        discovery.resolve("provider", "fixture", "9.9")
    assert "available: 1.0.0, 0.5.0" in str(err.value)
    assert err.value.exit_code == 2
    with pytest.raises(ExtensionNotFound) as err:
        discovery.resolve("provider", "nothing-like-it")
    assert "pip install provisioning-provider-nothing-like-it" in str(err.value)


@pytest.mark.parametrize(
    ("variable", "value", "enabled"),
    [
        ("PROV_LOAD_PLUGINS", "fixture,taskserv:containerd", {"fixture", "containerd"}),
        ("PROV_DISABLE_PLUGINS", "fixture, provider:raising", None),
    ],
)
def test_allow_and_deny_lists(installed, monkeypatch, variable, value, enabled):
    monkeypatch.setenv(variable, value)
    everything = Discovery().all()
    ok = {e.name for e in everything if e.status == "ok"}
    disabled = {e.name for e in everything if e.status == "disabled"}
    if enabled is not None:
        assert ok == enabled
        assert "buildkit" in disabled
    else:
        assert {"fixture", "raising"} <= disabled
        assert "fixture" not in ok
        assert "containerd" in ok
    reasons = {e.reason for e in everything if e.status == "disabled"}
    assert all(variable in r for r in reasons)


def test_scan_cache_is_used_and_invalidated_by_an_install(tmp_path, monkeypatch, prov_home):
    site = tmp_path / "site"
    pip_install(site, DISTS / "good")
    monkeypatch.syspath_prepend(str(site))
    first = Discovery()
    assert {e.name for e in first.all()} == {"fixture", "buildkit"}
    assert first.cache_hit is False
    (scan,) = (prov_home / "extensions").glob("scan-*")
    assert (scan / "all.json").is_file()
    assert (scan / "provider" / "fixture.json").is_file()
    second = Discovery()
    assert [e.name for e in second.all()] == [e.name for e in first.all()]
    assert second.cache_hit is True
    # one name is answered from its own file, without the full scan
    one = Discovery()
    assert one.resolve("provider", "fixture").version == "1.0.0"
    assert one.cache_hit is True
    assert one._all is None
    # installing another distribution changes the site directory: rescan
    pip_install(site, DISTS / "containerd")
    third = Discovery()
    assert "containerd" in {e.name for e in third.all()}
    assert third.cache_hit is False
    assert [p.name for p in (prov_home / "extensions").glob("scan-*")] != [scan.name]
    assert len(list((prov_home / "extensions").glob("scan-*"))) == 1  # the old scan is gone
    assert Discovery().resolve("taskserv", "containerd").version == "1.5.0"


def test_scan_cache_can_be_disabled_and_survives_corruption(installed, monkeypatch, prov_home):
    Discovery().all()
    (scan,) = (prov_home / "extensions").glob("scan-*")
    (scan / "all.json").write_text("{not json")
    (scan / "provider" / "fixture.json").write_text('[{"kind": 1}]')
    again = Discovery()
    assert again.resolve("provider", "fixture").version == "1.0.0"  # fell back to a scan
    assert again.all()
    assert again.cache_hit is False
    (scan,) = (prov_home / "extensions").glob("scan-*")  # the damaged scan was rewritten
    healed = Discovery()
    assert healed.resolve("provider", "fixture").version == "1.0.0"
    assert healed.cache_hit is True
    monkeypatch.setenv("PROV_NO_SCAN_CACHE", "1")
    shutil.rmtree(scan)
    uncached = Discovery()
    assert uncached.all()
    assert uncached.cache_hit is False
    assert not list((prov_home / "extensions").glob("scan-*"))


def test_refresh_sees_new_installs(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    discovery = Discovery()
    assert discovery.all() == []
    pip_install(site, DISTS / "nocore")
    assert discovery.all() == []  # answers from memory until refreshed
    discovery.refresh()
    assert [e.name for e in discovery.all()] == ["nocore"]


def test_a_path_entry_that_does_not_exist_is_harmless(tmp_path, installed):
    discovery = Discovery(path=[str(tmp_path / "missing"), str(installed)])
    assert discovery.resolve("provider", "fixture").version == "1.0.0"


def test_kind_names_and_groups():
    assert [k.group for k in ExtensionType] == [
        "provisioning.providers",
        "provisioning.taskservs",
        "provisioning.clusters",
    ]
    assert ExtensionType.PROVIDER == "provider"
    assert {ExtensionType.PROVIDER: 1}["provider"] == 1
    assert f"{ExtensionType.CLUSTER}" == "cluster"


def test_environments_sharing_a_home_keep_their_own_scan(installed, monkeypatch, prov_home):
    Discovery().all()
    original = sys.prefix
    monkeypatch.setattr(sys, "prefix", "/some/other/venv")
    Discovery().all()
    monkeypatch.setattr(sys, "prefix", original)
    assert len(list((prov_home / "extensions").glob("scan-*"))) == 2
    again = Discovery()
    again.all()
    assert again.cache_hit is True


def test_the_scan_cache_round_trips_a_manifest(tmp_path):
    from provisioning_core.discovery import _ScanCache
    from provisioning_core.models import DiscoveredExtension, ExtensionManifest

    manifest = ExtensionManifest(
        license="MIT",
        compatibility={"kcl_version": ">=0.11.0"},
        capabilities={"backup": True},
        auth_methods=["api_key"],
        required_auth=["api_key"],
        default_region="eu-west-1",
        regions=["eu-west-1"],
        support={"issues": "https://example.invalid/issues"},
    )
    ext = DiscoveredExtension(
        kind="provider", name="m", version="1", source="entry-point", target="m", manifest=manifest
    )
    plain = DiscoveredExtension(kind="taskserv", name="p", version="1", source="x", target="p")
    site = tmp_path / "site"  # not tmp_path: PROV_HOME is made in there, changing its mtime
    site.mkdir()
    _ScanCache([str(site)]).save([ext, plain])
    cache = _ScanCache([str(site)])  # a new process reads what the last one wrote
    assert cache.load_all() == [ext, plain]
    assert cache.load_name("provider", "m") == [ext]
    assert cache.load_name("taskserv", "p") == [plain]


def test_a_scan_is_removed_whole_so_no_reader_sees_installed_plugins_missing(tmp_path):
    from provisioning_core.discovery import _ScanCache
    from provisioning_core.models import DiscoveredExtension

    ext = DiscoveredExtension(kind="provider", name="m", version="1", source="x", target="m")
    one, two = tmp_path / "one", tmp_path / "two"  # two search paths: two scans, one env
    one.mkdir()
    two.mkdir()
    first = _ScanCache([str(one)])
    first.save([ext])
    # a process killed while it removed a scan used to leave it half there: a scan that
    # said "m" is not installed; removal is now a rename, so only litter can remain
    litter = first.parent / ".trash-scan-left-by-a-killed-process"
    (litter / "provider").mkdir(parents=True)
    second = _ScanCache([str(two)])
    second.save([ext])  # replaces this environment's older scans, and sweeps the litter
    assert not first.dir.exists()
    assert not litter.exists()
    assert first.load_name("provider", "m") is None  # no scan: rescan, never "not installed"
    assert second.load_name("provider", "m") == [ext]
    assert [p.name for p in first.parent.iterdir()] == [second.dir.name]


def test_a_name_too_long_for_a_file_or_full_of_shell_is_just_not_installed(installed):
    Discovery().all()  # a scan on disk, so that one name is looked up in its own file
    discovery = Discovery()
    with pytest.raises(ExtensionNotFound) as err:
        discovery.resolve("cluster", "../" * 100)  # 900 characters once quoted
    assert "is not installed" in str(err.value)
    for name in ("$(touch x)", "", "a b"):
        with pytest.raises(ExtensionNotFound) as err:
            Discovery().resolve("cluster", name)
        # a hint to copy never holds shell syntax the user typed
        assert "pip install" not in str(err.value), name
        assert "prov plugin list" in str(err.value)
