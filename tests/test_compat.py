from __future__ import annotations

from provisioning_core.compat import (
    check_core_compatibility,
    core_requirement,
    extension_requirements,
    missing_dependencies,
)


def test_core_requirement_reads_requires_dist_and_honours_markers():
    assert core_requirement(["attrs", "provisioning_core>=0.1,<0.2"]) == "<0.2,>=0.1"
    assert core_requirement(["provisioning-core<0; extra == 'dev'"]) is None
    assert core_requirement(["provisioning-core"]) == ""
    assert core_requirement(None) is None


def test_core_compatibility_messages():
    assert check_core_compatibility(">=0.1", "0.1.0") is None
    assert check_core_compatibility("", "0.1.0") is None
    assert check_core_compatibility(">=1", "0.1.0") == (
        "it needs provisioning-core>=1 but provisioning-core 0.1.0 is running"
    )
    assert "not a valid version specifier" in (check_core_compatibility("~~1", "0.1.0") or "")
    assert check_core_compatibility("<0.2", "0.2.0rc1") is not None


def test_extension_requirements_are_the_requires_dist_naming_plugins():
    requires = [
        "provisioning-core>=0.1",
        "attrs>=20",
        "acme-containerd>=1.6,<2",
        "provisioning-taskserv-etcd>=3.5",
        "provisioning-taskserv-windows; sys_platform == 'nonexistent'",
        "Provisioning_Provider_Local ; python_version >= '3'",
        "not a requirement!",
    ]
    assert extension_requirements(requires, {"Acme_Containerd"}) == [
        "acme-containerd>=1.6,<2",
        "provisioning-taskserv-etcd>=3.5",
        "Provisioning_Provider_Local",
    ]
    assert extension_requirements(None) == []


def test_every_missing_dependency_is_explained():
    available = {"containerd": ["1.5.2", "1.4.0"], "Runc": ["1.1"]}
    unusable = {"crun": "disabled: listed in PROV_DISABLE_PLUGINS"}
    assert missing_dependencies(
        ["containerd>=1.6", "etcd", "runc>=1", "bad req!", "crun"], available, unusable
    ) == [
        "containerd>=1.6 (available: 1.5.2, 1.4.0)",
        "etcd (not installed)",
        "bad req! (not a valid requirement)",
        "crun (installed but disabled: listed in PROV_DISABLE_PLUGINS)",
    ]
