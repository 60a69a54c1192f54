from __future__ import annotations

from provisioning_core.compat import (
    check_core_compatibility,
    core_requirement,
    missing_dependencies,
    split_requirements,
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


def test_split_keeps_specifier_commas_together():
    assert split_requirements("containerd>=1.6,<2, etcd , x==1") == [
        "containerd>=1.6,<2",
        "etcd",
        "x==1",
    ]
    assert split_requirements("") == []


def test_every_missing_dependency_is_explained():
    available = {"containerd": ["1.5.2", "1.4.0"], "Runc": ["1.1"]}
    assert missing_dependencies(["containerd>=1.6", "etcd", "runc>=1", "bad req!"], available) == [
        "containerd>=1.6 (available: 1.5.2, 1.4.0)",
        "etcd (not installed)",
        "bad req! (not a valid requirement)",
    ]
