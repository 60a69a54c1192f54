from __future__ import annotations

import pytest

from provisioning_core import ConfigError, DependencyCycleError, dependency_waves, reverse_waves


def test_waves_group_what_can_run_together():
    graph = {
        "buildkit": ["containerd"],
        "registry": [],
        "containerd": [],
        "ci": ["buildkit", "registry"],
    }
    waves = dependency_waves(graph)
    assert waves == [["containerd", "registry"], ["buildkit"], ["ci"]]
    assert reverse_waves(waves) == [["ci"], ["buildkit"], ["containerd", "registry"]]
    assert dependency_waves({}) == []


def test_a_cycle_is_named():
    with pytest.raises(DependencyCycleError) as err:
        dependency_waves({"a": ["b"], "b": ["c"], "c": ["a"], "d": []})
    assert err.value.cycle in (["a", "b", "c", "a"], ["b", "c", "a", "b"], ["c", "a", "b", "c"])
    assert "form a cycle" in str(err.value)
    assert " -> ".join(err.value.cycle) in str(err.value)
    with pytest.raises(DependencyCycleError, match="x -> x"):
        dependency_waves({"x": ["x"]})


def test_an_undefined_dependency_is_bad_input():
    with pytest.raises(ConfigError) as err:
        dependency_waves({"buildkit": ["containerd"]}, what="taskservs")
    assert "'buildkit' depends on 'containerd', which is not defined" in str(err.value)
