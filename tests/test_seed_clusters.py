"""The cluster side of the seed (the Extension Development API's "Cluster
Extension API"): every record and example written exactly as the seed writes
it goes through the core, our own spellings keep working, strict stays strict.

The cluster engine runs for real against the recording fixture (servers and
their plans from its provider, components deployed by its ``rectask``
taskserv into real store files); ``seedcluster`` is a fixture distribution
whose hooks answer in the seed's shapes.
"""

from __future__ import annotations

import json

import pytest

from provisioning_core import (
    ClusterConfig,
    ClusterInfo,
    ClusterResources,
    Component,
    ComponentKind,
    ComponentResources,
    DataValidationError,
    structure,
    unstructure,
)
from provisioning_core.quantities import format_size, parse_cpu, parse_size
from tests.cli import conftest as cli
from tests.cli.conftest import FAST, calls
from tests.testing.test_conformance import CLUSTER, run_suite

# the CLI tests' fixtures: `prov` runs the real entry point, `workspace` writes
# the working directory's provisioning.toml
prov = cli.prov
workspace = cli.workspace

# The seed's `buildkit_cluster: ClusterConfig = {...}`, as written there (KCL's
# True/False are Python's).
BUILDKIT_CLUSTER = {
    "name": "buildkit",
    "version": "1.0.0",
    "description": "Container build cluster with BuildKit and registry",
    "components": [
        {
            "name": "containerd",
            "type": "taskserv",
            "version": "1.7.0",
            "enabled": True,
            "dependencies": [],
        },
        {
            "name": "buildkit",
            "type": "taskserv",
            "version": "0.12.0",
            "enabled": True,
            "dependencies": ["containerd"],
            "config": {
                "worker_count": 4,
                "cache_size": "10Gi",
                "registry_mirrors": ["registry:5000"],
            },
        },
        {
            "name": "registry",
            "type": "application",
            "version": "2.8.0",
            "enabled": True,
            "dependencies": [],
            "config": {
                "storage_driver": "filesystem",
                "storage_path": "/var/lib/registry",
                "auth_enabled": False,
            },
            "resources": {"cpu": "500m", "memory": "1Gi", "storage": "50Gi", "replicas": 1},
        },
    ],
    "resources": {
        "min_nodes": 1,
        "cpu_per_node": "4",
        "memory_per_node": "8Gi",
        "storage_per_node": "100Gi",
    },
    "features": {"monitoring": True, "logging": True, "ingress": False, "storage": True},
}

# The same example as the `[clusters.buildkit]` table of a provisioning.toml.
BUILDKIT_TOML = """
[clusters.buildkit]
name = "buildkit"
version = "1.0.0"
description = "Container build cluster with BuildKit and registry"

[[clusters.buildkit.components]]
name = "containerd"
type = "taskserv"
version = "1.7.0"
enabled = true
dependencies = []

[[clusters.buildkit.components]]
name = "buildkit"
type = "taskserv"
version = "0.12.0"
enabled = true
dependencies = ["containerd"]
config = { worker_count = 4, cache_size = "10Gi", registry_mirrors = ["registry:5000"] }

[[clusters.buildkit.components]]
name = "registry"
type = "application"
version = "2.8.0"
enabled = true
dependencies = []
config = { storage_driver = "filesystem", storage_path = "/var/lib/registry", auth_enabled = false }
resources = { cpu = "500m", memory = "1Gi", storage = "50Gi", replicas = 1 }

[clusters.buildkit.resources]
min_nodes = 1
cpu_per_node = "4"
memory_per_node = "8Gi"
storage_per_node = "100Gi"

[clusters.buildkit.features]
monitoring = true
logging = true
ingress = false
storage = true
"""

# The seed's `cluster-info` of its Nushell template, as it returns it.
CLUSTER_INFO = {
    "name": "my-cluster",
    "version": "1.0.0",
    "type": "cluster",
    "category": "build",
    "description": "Custom application cluster",
    "components": [
        {"name": "containerd", "type": "taskserv", "version": "1.7.0", "dependencies": []},
        {
            "name": "my-service",
            "type": "taskserv",
            "version": "1.0.0",
            "dependencies": ["containerd"],
        },
        {"name": "registry", "type": "application", "version": "2.8.0", "dependencies": []},
    ],
    "required_resources": {
        "min_nodes": 1,
        "cpu_per_node": "2",
        "memory_per_node": "4Gi",
        "storage_per_node": "20Gi",
    },
}


def _servers(prov, plan: str, count: int = 1, hostname: str = "node") -> list[str]:
    created = prov(
        "server", "create", hostname, "-p", "recording", "--plan", plan,
        "--zone", "test-1", "--count", str(count), "--wait",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    return [hostname] if count == 1 else [f"{hostname}-{i}" for i in range(1, count + 1)]


def _store(prov_home, name):
    path = prov_home / "recording" / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else {}


# --- records, structured --------------------------------------------------------------------


def test_the_seeds_buildkit_cluster_structures_as_written():
    config = structure(BUILDKIT_CLUSTER, ClusterConfig)
    assert config.description == "Container build cluster with BuildKit and registry"
    assert config.resources == ClusterResources(1, "4", "8Gi", "100Gi")
    assert (config.features.monitoring, config.features.ingress) == (True, False)
    # network is not in the example: the seed's defaults
    assert config.network.cluster_cidr == "10.244.0.0/16"
    assert config.network.service_cidr == "10.96.0.0/12"
    assert config.network.dns_domain == "cluster.local"
    _, buildkit, registry = config.components
    assert [c.kind for c in config.components] == [
        ComponentKind.TASKSERV,
        ComponentKind.TASKSERV,
        ComponentKind.APPLICATION,
    ]
    assert buildkit.depends_on == ["containerd"]
    assert buildkit.settings["registry_mirrors"] == ["registry:5000"]
    assert registry.resources == ComponentResources("500m", "1Gi", "50Gi", 1)
    assert registry.replicas == 1
    assert all(c.enabled for c in config.components)
    # output uses our names
    out = unstructure(config)["components"][1]
    assert {"kind", "depends_on", "settings"} <= set(out)
    assert not {"type", "dependencies", "config"} & set(out)


def test_our_spellings_keep_working_and_both_names_of_one_field_are_refused():
    ours = structure(
        {"name": "c", "components": [{"name": "a", "kind": "taskserv", "depends_on": []}]},
        ClusterConfig,
    )
    assert ours.components[0] == Component("a")
    with pytest.raises(DataValidationError) as both:
        structure({"name": "a", "depends_on": [], "dependencies": ["b"]}, Component)
    assert "'depends_on' and 'dependencies' are two names of one field" in str(both.value)


def test_strict_stays_strict_for_seed_records():
    record = json.loads(json.dumps(BUILDKIT_CLUSTER))
    record["components"][2]["resources"]["gpu"] = "1"
    record["components"][0]["enabeld"] = True
    record["resources"]["cpu_per_node"] = "four"
    record["network"] = {"cluster_cidr": "10.0.0.0/8", "pod_cidr": "x"}
    record["components"][1]["type"] = "service"
    with pytest.raises(DataValidationError) as bad:
        structure(record, ClusterConfig)
    problems = bad.value.problems
    assert "extra fields found (enabeld) @ $.components[0]" in problems
    assert "extra fields found (gpu) @ $.components[2].resources" in problems
    assert "extra fields found (pod_cidr) @ $.network" in problems
    assert any(
        p.startswith("invalid cpu_per_node 'four': expected cores") and p.endswith("@ $.resources")
        for p in problems
    ), problems
    assert any("'service'" in p and p.endswith("@ $.components[1].kind") for p in problems), (
        problems
    )


def test_resources_replicas_and_replicas_are_one_number():
    seed = {"name": "r", "resources": {"replicas": 3}}
    assert structure(seed, Component).replicas == 3
    assert structure({**seed, "replicas": 3}, Component).replicas == 3
    with pytest.raises(DataValidationError) as differ:
        structure({**seed, "replicas": 2}, Component)
    assert differ.value.problems == [
        "resources.replicas (3) and replicas (2) are one number; give one of them @ $"
    ]


def test_the_seeds_cluster_info_structures_as_returned():
    info = structure(CLUSTER_INFO, ClusterInfo)
    assert (info.type, info.category) == ("cluster", "build")
    assert info.required_resources == ClusterResources(1, "2", "4Gi", "20Gi")
    assert [(c.name, c.kind, c.depends_on) for c in info.components] == [
        ("containerd", "taskserv", []),
        ("my-service", "taskserv", ["containerd"]),
        ("registry", "application", []),
    ]
    with pytest.raises(DataValidationError) as wrong:
        structure({**CLUSTER_INFO, "type": "provider"}, ClusterInfo)
    assert "invalid type 'provider': expected one of cluster @ $" in wrong.value.problems


@pytest.mark.parametrize(
    ("text", "millicores"), [("2", 2000), ("500m", 500), ("0.5", 500), ("4", 4000)]
)
def test_cpu_quantities(text, millicores):
    assert parse_cpu(text) == millicores


@pytest.mark.parametrize(
    ("text", "size"),
    [("4Gi", 4 * 2**30), ("20G", 20 * 10**9), ("512Mi", 512 * 2**20), ("100", 100)],
)
def test_size_quantities(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "four", "2 cores", "-1", "4GB", "0.0001m"])
def test_bad_quantities_say_what_is_expected(text):
    with pytest.raises(ValueError, match=r"expected|finer than a millicore"):
        parse_cpu(text)
    with pytest.raises(ValueError, match="expected"):
        parse_size(text)


def test_sizes_read_back():
    assert format_size(4 * 2**30) == "4Gi"
    assert format_size(8192 * 2**20) == "8Gi"
    assert format_size(20 * 10**9) == "20G"


# --- the buildkit example as a workspace's [clusters.buildkit] -------------------------------


def test_list_components_of_the_seeds_example(prov, workspace):
    workspace(FAST + BUILDKIT_TOML)
    listed = prov("cluster", "list-components", "buildkit", "-o", "json")
    assert listed.exit_code == 0, listed.output
    components = listed.json()["components"]
    assert [(c["name"], c["kind"], c["enabled"], c["depends_on"]) for c in components] == [
        ("containerd", "taskserv", True, []),
        ("buildkit", "taskserv", True, ["containerd"]),
        ("registry", "application", True, []),
    ]
    assert components[2]["resources"]["cpu"] == "500m"
    table = prov("cluster", "list-components", "buildkit", "-o", "table")
    assert table.exit_code == 0, table.output
    assert "application" in table.stdout
    assert "ENABLED" in table.stdout


def test_a_table_naming_another_cluster_is_refused(prov, workspace):
    workspace(FAST + BUILDKIT_TOML.replace("[clusters.buildkit", "[clusters.ci"))
    refused = prov("cluster", "list-components", "ci")
    assert refused.exit_code == 2
    assert "name 'buildkit' is not the table's name 'ci' @ $.clusters.ci.name" in refused.stderr


SEED_ON_RECTASK = """
[clusters.seed]
type = "recdeploy"
servers = {servers}
description = "the seed's resources, checked against the recording provider's plans"

[clusters.seed.resources]
min_nodes = {min_nodes}
cpu_per_node = "4"
memory_per_node = "8Gi"
storage_per_node = "100Gi"

[[clusters.seed.components]]
name = "registry"
type = "application"
version = "2.8.0"
enabled = true
dependencies = []
config = {{ taskserv = "rectask", store = "registry" }}
resources = {{ cpu = "500m", memory = "1Gi", storage = "50Gi", replicas = 1 }}
"""


def test_create_checks_the_resources_against_the_plans_in_check_mode(prov, prov_home, workspace):
    servers = _servers(prov, "large")
    workspace(FAST + SEED_ON_RECTASK.format(servers=json.dumps(servers), min_nodes=1))
    planned = prov("cluster", "create", "seed", "--check", "-o", "json")
    assert planned.exit_code == 0, planned.output
    body = planned.json()
    check = body["details"]["requirements_check"]
    assert check["met"] is True
    assert check["required"]["cpu_per_node"] == "4"
    assert check["servers"] == {"node": "plan large: 4 cores, 8192 MB, 100 GB"}
    assert [r["target"] for r in body["results"]] == ["registry@node"]
    assert not (prov_home / "recording" / "registry.json").exists()
    table = prov("cluster", "create", "seed", "--check", "-o", "table")
    assert "requirements met: 1 server(s) or more, each cpu 4, memory 8Gi" in table.stdout
    assert "node: plan large: 4 cores, 8192 MB, 100 GB" in table.stdout


def test_servers_too_small_for_the_resources_are_refused_before_anything(
    prov, prov_home, workspace
):
    servers = _servers(prov, "small")
    workspace(FAST + SEED_ON_RECTASK.format(servers=json.dumps(servers), min_nodes=2))
    for args in (("--check",), ()):
        refused = prov("cluster", "create", "seed", *args)
        assert refused.exit_code == 2, refused.output
        err = refused.stderr
        assert "the servers of cluster 'seed' do not meet its resource requirements" in err
        assert (
            "the cluster has 1 server(s) but needs at least 2 "
            "(min_nodes of $.clusters.seed.resources) @ $.clusters.seed.servers"
        ) in err
        assert (
            "server node (plan small) has 1 core(s), less than cpu_per_node '4' "
            "of $.clusters.seed.resources"
        ) in err
        assert "server node (plan small) has 1024 MB (1Gi), less than memory_per_node" in err
        assert "use servers with bigger plans" in err
        assert "Traceback" not in refused.output
    assert not (prov_home / "recording" / "registry.json").exists()


def test_a_server_whose_plan_the_provider_does_not_list_is_named(prov, prov_home, workspace):
    servers = _servers(prov, "large")
    store = prov_home / "recording" / "recording.json"
    data = json.loads(store.read_text())
    for record in data["servers"].values():
        record["plan"] = "retired"
    store.write_text(json.dumps(data))
    workspace(FAST + SEED_ON_RECTASK.format(servers=json.dumps(servers), min_nodes=1))
    refused = prov("cluster", "create", "seed", "--check")
    assert refused.exit_code == 2
    assert (
        "server node: cannot check the per-node requirements of $.clusters.seed.resources: "
        "its plan 'retired' is not one provider 'recording' lists"
    ) in refused.stderr


# --- the seed's component semantics through the core's engine ---------------------------------

DISABLED = """
[clusters.ci]
type = "recdeploy"
servers = {servers}

[[clusters.ci.components]]
name = "db"
type = "infrastructure"
dependencies = []
config = {{ taskserv = "rectask", store = "db" }}

[[clusters.ci.components]]
name = "web"
type = "application"
enabled = {web}
dependencies = ["db"]
config = {{ taskserv = "rectask", store = "web" }}

[[clusters.ci.components]]
name = "api"
type = "taskserv"
dependencies = ["{api_needs}"]
config = {{ taskserv = "rectask", store = "api" }}
"""


def test_a_disabled_component_is_skipped_and_reported(prov, prov_home, workspace):
    servers = _servers(prov, "small")
    workspace(FAST + DISABLED.format(servers=json.dumps(servers), web="false", api_needs="db"))
    done = prov("cluster", "create", "ci", "-o", "json")
    assert done.exit_code == 0, done.output
    body = done.json()
    assert [r["target"] for r in body["results"]] == ["db@node", "api@node"]
    assert body["details"]["skipped"] == {"web": "disabled (enabled = false)"}
    # application and infrastructure components are deployed as taskservs
    assert _store(prov_home, "db")["servers"]
    assert not _store(prov_home, "web")
    status = prov("cluster", "status", "ci", "-o", "json").json()
    assert status["status"] == "running"
    assert {c["name"]: c["status"] for c in status["components"]} == {
        "db": "running",
        "web": "skipped",
        "api": "running",
    }
    table = prov("cluster", "create", "ci", "--check", "-o", "table")
    assert "skipped web: disabled (enabled = false)" in table.stdout


def test_depending_on_a_disabled_component_is_an_input_error(prov, workspace):
    servers = _servers(prov, "small")
    workspace(FAST + DISABLED.format(servers=json.dumps(servers), web="false", api_needs="web"))
    refused = prov("cluster", "create", "ci", "--check")
    assert refused.exit_code == 2
    assert (
        "api depends on web, which is disabled (enabled = false): enable it or drop the "
        "dependency @ $.clusters.ci.components.api.depends_on"
    ) in refused.stderr


def test_create_and_status_report_endpoints(prov, workspace):
    servers = _servers(prov, "small", 2)
    workspace(FAST + DISABLED.format(servers=json.dumps(servers), web="true", api_needs="db"))
    done = prov("cluster", "create", "ci", "-o", "json")
    assert done.exit_code == 0, done.output
    endpoints = done.json()["details"]["endpoints"]
    # rectask serves on 7070; each component on the first of the two servers
    assert set(endpoints) == {"db", "web", "api"}
    assert all(len(a) == 1 and a[0].endswith(":7070") for a in endpoints.values()), endpoints
    status = prov("cluster", "status", "ci", "-o", "json").json()
    assert status["endpoints"] == endpoints
    table = prov("cluster", "status", "ci", "-o", "table")
    assert f"endpoint db: {endpoints['db'][0]}" in table.stdout


def test_scale_without_a_component_scales_every_one(prov, prov_home, workspace):
    servers = _servers(prov, "small", 2)
    workspace(FAST + DISABLED.format(servers=json.dumps(servers), web="false", api_needs="db"))
    assert prov("cluster", "create", "ci").exit_code == 0
    planned = prov("cluster", "scale", "ci", "--replicas", "2", "--check", "-o", "json")
    assert planned.exit_code == 0, planned.output
    assert [r["target"] for r in planned.json()["results"]] == ["db@node-2", "api@node-2"]
    scaled = prov("cluster", "scale", "ci", "--replicas", "2", "-o", "json")
    assert scaled.exit_code == 0, scaled.output
    for name in ("db", "api"):
        hosts = {s["hostname"] for s in _store(prov_home, name)["servers"].values()}
        assert hosts == {"node-1", "node-2"}, name
    assert not _store(prov_home, "web")  # disabled: not scaled
    # --component keeps working
    one = prov("cluster", "scale", "ci", "--component", "api", "--replicas", "1", "-o", "json")
    assert one.exit_code == 0, one.output
    assert [r["target"] for r in one.json()["results"]] == ["api@node-2"]


def test_delete_force_goes_on_past_a_failing_component_and_says_what_was_left(
    prov, prov_home, workspace
):
    servers = _servers(prov, "small")
    toml = DISABLED.format(servers=json.dumps(servers), web="true", api_needs="db")
    workspace(FAST + toml)
    assert prov("cluster", "create", "ci").exit_code == 0
    failing = toml.replace('store = "web" }', 'store = "web", raise_in = ["uninstall"] }')
    workspace(FAST + failing)
    stopped = prov("cluster", "delete", "ci", "-o", "json")
    assert stopped.exit_code == 1
    # without --force the first failure stops the delete: db is still there
    assert _store(prov_home, "db")["servers"]
    forced = prov("cluster", "delete", "ci", "--force", "-o", "json")
    assert forced.exit_code == 1, forced.output
    body = forced.json()
    assert body["details"]["left"] == ["web@node"]
    outcomes = {r["target"]: r["outcome"] for r in body["results"]}
    assert outcomes["web@node"] == "failed"
    assert outcomes["db@node"] == "done"
    assert not _store(prov_home, "db")["servers"]
    assert "error: web@node" in forced.stderr
    table = prov("cluster", "delete", "ci", "--force", "-o", "table")
    assert "left (not removed): web@node" in table.stdout


# --- a cluster plugin answering in the seed's shapes ------------------------------------------


def test_the_seed_shaped_cluster_validates_strictly(prov):
    validated = prov(
        "plugin", "validate", "seedcluster", "--kind", "cluster", "-o", "json",
        env={"PROV_STRICT": "1"},
    )  # fmt: skip
    assert validated.json()["valid"] is True, validated.output
    assert validated.exit_code == 0, validated.output


def test_the_seed_shaped_cluster_deploys_through_the_engine(prov, prov_home, workspace):
    servers = _servers(prov, "medium")
    workspace(FAST + f'\n[clusters.app]\ntype = "seedcluster"\nservers = {json.dumps(servers)}\n')
    listed = prov("cluster", "list-components", "app", "-o", "json").json()["components"]
    assert [(c["name"], c["kind"], c["depends_on"]) for c in listed] == [
        ("containerd", "taskserv", []),
        ("my-service", "taskserv", ["containerd"]),
        ("registry", "application", []),
    ]
    planned = prov("cluster", "create", "app", "--check", "-o", "json").json()
    # required_resources of the plugin's cluster_info, met by the medium plan
    assert planned["details"]["requirements_check"]["required"]["from"] == (
        "required_resources of cluster plugin 'seedcluster'"
    )
    assert not _store(prov_home, "seed-registry")  # check mode deployed nothing
    done = prov("cluster", "create", "app", "-o", "json")
    assert done.exit_code == 0, done.output
    assert _store(prov_home, "seed-my-service")["servers"]
    assert prov("cluster", "status", "app", "-o", "json").json()["status"] == "running"
    assert prov("cluster", "delete", "app").exit_code == 0
    assert not _store(prov_home, "seed-registry")["servers"]
    uninstalled = [
        c["hostname"] for c in calls(prov_home, "seed-registry") if c["hook"] == "uninstall"
    ]
    assert uninstalled == ["node"]


def test_the_seed_shaped_cluster_refuses_small_servers(prov, workspace):
    servers = _servers(prov, "small")
    workspace(FAST + f'\n[clusters.app]\ntype = "seedcluster"\nservers = {json.dumps(servers)}\n')
    refused = prov("cluster", "create", "app", "--check")
    assert refused.exit_code == 2
    assert (
        "server node (plan small) has 1 core(s), less than cpu_per_node '2' of "
        "required_resources of cluster plugin 'seedcluster'"
    ) in refused.stderr


SEED_ENGINE = """
    @pytest.fixture
    def workspace_toml(self):
        return "[operations]\\nwait_interval = 0.05\\n"

    @pytest.fixture
    def cluster_config(self, prov):
        created = prov(
            "server", "create", "web", "-p", "recording", "--plan", "medium",
            "--zone", "test-1", "--count", "2", "--wait",
        )
        assert created.exit_code == 0, created.output
        return ClusterConfig(name="ci", servers=["web-1", "web-2"])
"""


def test_the_seed_shaped_cluster_passes_the_conformance_suite(tmp_path, plugin_site):
    result = run_suite(
        tmp_path, plugin_site, CLUSTER.replace("{CLUSTER}", "seedcluster") + SEED_ENGINE
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_the_resource_check_comes_before_a_plugins_own_create(prov, prov_home, workspace):
    servers = _servers(prov, "small")
    workspace(
        FAST
        + f'\n[clusters.shop]\ntype = "reccluster"\nservers = {json.dumps(servers)}\n'
        + '[clusters.shop.resources]\nmin_nodes = 2\ncpu_per_node = "500m"\n'
        + 'memory_per_node = "1Gi"\nstorage_per_node = "25G"\n'
    )
    for args in (("--check",), ()):
        refused = prov("cluster", "create", "shop", *args)
        assert refused.exit_code == 2, refused.output
        assert "needs at least 2 (min_nodes of $.clusters.shop.resources)" in refused.stderr
        # the small plan has 1 core, 1024 MB and 25 GB: the per-node requirements are met
        assert "server node (plan small)" not in refused.stderr
    assert [c for c in calls(prov_home, "reccluster") if c["hook"] == "create"] == []
