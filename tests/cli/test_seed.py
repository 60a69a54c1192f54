"""Every provider and taskserv record of the seed documents, written exactly as there,
read by the core: structured, validated and used by a command.

The seed (../shared/seeds/extension-development-api.txt) writes its records in
KCL and Nushell; here they are the same keys and values as Python dicts and
TOML.  The fixture distribution ``prov-fixture-seed`` returns them from its
hooks exactly as the seed's Nushell functions do.  Cluster records are in
tests/test_seed_clusters.py, metadata.toml in tests/test_discovery.py.
"""

from __future__ import annotations

import json

import pytest

from provisioning_core import (
    ConnectionResult,
    DataValidationError,
    FirewallRule,
    OperationResult,
    ProviderInfo,
    ProviderSettings,
    Server,
    ServerConfig,
    TaskservInfo,
    TaskservStatus,
    TaskservVersion,
    structure,
)

# --- the seed's records, as written there ------------------------------------------------

# kcl/settings.k ProviderSettings, every field given
SETTINGS_TOML = """
[providers.seedcloud.auth]
method = "api_key"
api_key = "${SEED_KEY}"
api_secret = "${SEED_SECRET}"

[providers.seedcloud.api]
base_url = "https://api.test.com"

[providers.seedcloud.defaults]
plan = "1xCPU-1GB"
zone = "test-zone"
os = "ubuntu-22.04"
ssh_keys = []
firewall_rules = [
    { direction = "ingress", protocol = "tcp", port = "22", source = "0.0.0.0/0", action = "allow" },
    { direction = "ingress", protocol = "tcp", port = "8000-8100", action = "allow" },
]

[providers.seedcloud.features]
load_balancer = false
storage_encryption = true
backup = true
monitoring = false
"""

SECRETS = {"SEED_KEY": "test-key-1234567890", "SEED_SECRET": "test-secret-1234567890"}

# nulib/mod.nu provider-info
PROVIDER_INFO = {
    "name": "my-provider",
    "version": "1.0.0",
    "type": "provider",
    "interface": "API",
    "supported_operations": [
        "create-server",
        "delete-server",
        "list-servers",
        "get-server-info",
        "start-server",
        "stop-server",
    ],
    "required_auth": ["api_key", "api_secret"],
    "supported_os": ["ubuntu-22.04", "debian-11", "centos-8"],
    "regions": ["us-east-1", "us-west-2"],
}

# kcl/version.k taskserv_version
TASKSERV_VERSION = {
    "name": "my-service",
    "version": "1.0.0",
    "source": {
        "type": "github",
        "repository": "example/my-service",
        "release_pattern": "v{version}",
    },
    "install": {
        "method": "binary",
        "binary_name": "my-service",
        "binary_path": "/usr/local/bin",
        "config_path": "/etc/my-service",
        "data_path": "/var/lib/my-service",
    },
    "dependencies": [{"name": "containerd", "version": ">=1.6.0"}],
    "service": {
        "type": "systemd",
        "user": "my-service",
        "group": "my-service",
        "ports": [8080, 9090],
    },
    "health_check": {
        "endpoint": "http://localhost:9090/health",
        "interval": 30,
        "timeout": 5,
        "retries": 3,
    },
}

# nulib/mod.nu taskserv-info
TASKSERV_INFO = {
    "name": "my-service",
    "version": "1.0.0",
    "type": "taskserv",
    "category": "application",
    "description": "Custom application service",
    "dependencies": ["containerd"],
    "ports": [8080, 9090],
    "config_files": ["/etc/my-service/config.yaml"],
    "data_directories": ["/var/lib/my-service"],
}


# --- structured as the contract's records -------------------------------------------------


def test_the_seeds_provider_settings_are_the_contracts(workspace, monkeypatch):
    from provisioning_core.config import load_config

    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    workspace(SETTINGS_TOML)
    settings = load_config().provider_settings("seedcloud")
    assert isinstance(settings, ProviderSettings)
    assert settings.auth.method == "api_key"
    assert settings.auth.api_key is not None
    assert settings.auth.api_key.reveal() == SECRETS["SEED_KEY"]
    assert settings.api.version == "v1"
    assert settings.api.retries == 3
    assert settings.api.timeout == 30
    rules = settings.defaults.firewall_rules
    assert rules[0] == FirewallRule("in", "tcp", "accept", port=22, source="0.0.0.0/0")
    assert rules[1].ports == (8000, 8100)
    features = settings.features
    assert (features.storage_encryption, features.backups, features.monitoring) == (
        True,
        True,
        False,
    )


def test_the_seeds_provider_info_is_a_provider_info():
    info = structure(PROVIDER_INFO, ProviderInfo)
    assert info.type == "provider"
    assert info.interface == "API"
    assert info.supported_operations[0] == "create_server"  # the seed's name, as a hook's
    assert info.required_auth == ["api_key", "api_secret"]
    assert info.supported_os == ["ubuntu-22.04", "debian-11", "centos-8"]


def test_the_seeds_test_connection_records_read_as_connection_results():
    ok = structure(
        {"success": True, "account_info": {"id": 1}, "message": "Connection successful"},
        ConnectionResult,
    )
    assert ok.ok
    assert ok.account_info == {"id": 1}
    failed = structure(
        {"success": False, "error": "401", "message": "Connection failed"}, ConnectionResult
    )
    assert not failed.ok
    assert failed.error == "401"


def test_the_seeds_create_server_records_read_as_servers():
    created = {
        "success": True,
        "server_id": "srv-1",
        "hostname": "web-1",
        "status": "creating",
        "message": "Server creation in progress",
    }
    assert structure(created, Server) == Server("srv-1", "web-1", "creating")
    waited = {
        "success": True,
        "server_id": "srv-1",
        "hostname": "web-1",
        "status": "running",
        "ip_addresses": ["192.0.2.1"],
        "ssh_access": {"host": "192.0.2.1"},
    }
    assert structure(waited, Server).ip_addresses == ["192.0.2.1"]
    planned = {
        "action": "create-server",
        "hostname": "test-server",
        "check_mode": True,
        "would_create": True,
        "estimated_time": "2-5 minutes",
    }
    assert structure(planned, Server) == Server("", "test-server", "creating")


def test_strict_stays_strict_for_the_seeds_records():
    with pytest.raises(DataValidationError) as caught:
        structure({"server_id": "1", "hostname": "a", "status": "running", "flavour": 1}, Server)
    assert "flavour" in str(caught.value.problems)
    with pytest.raises(DataValidationError) as both:
        structure({"id": "1", "server_id": "1", "hostname": "a", "status": "running"}, Server)
    assert "'id' and 'server_id' are two names of one field" in str(both.value.problems)


def test_the_seeds_server_config_with_storage_and_network():
    config = structure(
        {
            "hostname": "test-server",
            "plan": "1xCPU-1GB",
            "zone": "test-zone",
            "os": "ubuntu-22.04",
            "ssh_keys": [],
            "tags": {},
            "firewall_rules": [
                {"direction": "egress", "protocol": "udp", "port": "53", "action": "deny"}
            ],
            "storage": {"size": 50, "type": "ssd"},
            "network": {"private_network": "net-1", "bandwidth": 100},
        },
        ServerConfig,
    )
    assert config.storage is not None
    # None: the provider's features.storage_encryption, true by default as the seed's
    assert config.storage.encrypted is None
    assert config.network is not None
    assert config.network.public_ip is True
    assert config.firewall_rules[0] == FirewallRule("out", "udp", "drop", port=53)


def test_the_seeds_version_k_record_is_a_taskserv_info():
    info = structure(TASKSERV_VERSION, TaskservInfo)
    assert info.dependencies == ["containerd>=1.6.0"]
    assert info.install is not None
    assert (info.install.path, info.install.config_dir, info.install.data_dir) == (
        "/usr/local/bin",
        "/etc/my-service",
        "/var/lib/my-service",
    )
    assert info.install.binary_name == "my-service"
    assert info.source is not None
    assert info.source.release_pattern == "v{version}"
    assert info.service is not None
    assert info.service.type == "systemd"
    assert info.service.group == "my-service"
    assert info.service.name is None
    assert info.health_check is not None
    assert info.health_check.type == "http"


def test_the_seeds_taskserv_info_is_a_taskserv_info():
    info = structure(TASKSERV_INFO, TaskservInfo)
    assert (info.type, info.category, info.ports) == ("taskserv", "application", [8080, 9090])
    assert info.config_files == ["/etc/my-service/config.yaml"]
    assert info.data_directories == ["/var/lib/my-service"]


def test_the_seeds_install_records_read_as_operation_results():
    planned = structure(
        {
            "action": "install",
            "service": "my-service",
            "version": "1.0.0",
            "check_mode": True,
            "would_install": True,
            "requirements_met": {"met": False, "missing": ["containerd"]},
        },
        OperationResult,
    )
    assert planned.changed is True
    assert "requirements not met: containerd" in planned.message
    assert planned.details["requirements_met"] == {"met": False, "missing": ["containerd"]}
    done = structure(
        {
            "success": True,
            "service": "my-service",
            "version": "1.0.0",
            "status": "running",
            "health": {"healthy": True, "status": "ok"},
        },
        OperationResult,
    )
    assert done.changed
    assert done.message == "my-service 1.0.0: running"
    assert done.details["health"] == {"healthy": True, "status": "ok"}


def test_the_seeds_status_record_reads_as_a_taskserv_status():
    status = structure(
        {
            "service": "my-service",
            "version": "1.0.0",
            "systemd_status": "active",
            "health": {"healthy": True, "status": "ok", "last_check": "2025-10-06T12:30:00Z"},
            "uptime": "1hr 5min",
            "memory_usage": "128MB",
            "cpu_usage": "2.5%",
        },
        TaskservStatus,
    )
    assert (status.name, status.installed, status.running, status.healthy) == (
        "my-service",
        True,
        True,
        True,
    )
    assert (status.uptime_seconds, status.memory_mb, status.cpu_percent) == (3900.0, 128.0, 2.5)
    with pytest.raises(DataValidationError, match="not a valid TaskservStatus"):
        structure({"service": "x", "systemd_status": "active", "uptime": "soon"}, TaskservStatus)


def test_versions_may_be_listed_as_strings():
    assert structure(["1.0.0", "0.9.0"], list[TaskservVersion])[1] == TaskservVersion("0.9.0")


# --- the seed-shaped fixture plugins, through the CLI -------------------------------------


@pytest.fixture
def seed_workspace(workspace, monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    return workspace(SETTINGS_TOML)


def test_the_seed_provider_passes_strict_validation(prov, seed_workspace):
    result = prov("plugin", "validate", "seedcloud", env={"PROV_STRICT": "1"})
    assert result.exit_code == 0, result.output


def test_provider_info_shows_what_the_provider_offers_and_needs(prov, seed_workspace):
    result = prov("provider", "info", "seedcloud", "-o", "json")
    assert result.exit_code == 0, result.output
    data = result.json()
    assert data["interface"] == "API"
    assert data["supported_os"] == ["ubuntu-22.04", "debian-11", "centos-8"]
    assert data["authentication"]["required"] == ["api_key", "api_secret"]
    assert data["authentication"]["set"] == ["api_key", "api_secret"]
    assert data["features"]["storage_encryption"] is True
    assert SECRETS["SEED_KEY"] not in result.output


def test_a_missing_credential_is_named_before_any_call(prov, workspace, monkeypatch):
    monkeypatch.setenv("SEED_KEY", SECRETS["SEED_KEY"])
    workspace(SETTINGS_TOML.replace('api_secret = "${SEED_SECRET}"\n', ""))
    result = prov("server", "list", "--provider", "seedcloud")
    assert result.exit_code == 2, result.output
    assert "requires auth.api_secret, which is not set @ $.providers.seedcloud.auth.api_secret" in (
        result.stderr
    )
    assert "Traceback" not in result.output


def test_auth_method_selects_the_credentials_it_needs(prov, workspace):
    workspace(
        SETTINGS_TOML.replace('method = "api_key"', 'method = "basic"').replace(
            'api_key = "${SEED_KEY}"\napi_secret = "${SEED_SECRET}"\n', ""
        )
    )
    result = prov("server", "list", "--provider", "seedcloud")
    assert result.exit_code == 2
    assert "auth.method 'basic' needs auth.username, which is not set" in result.stderr
    assert "auth.method 'basic' needs auth.password" in result.stderr


def test_test_connection_reports_the_seeds_record(prov, seed_workspace, monkeypatch):
    result = prov("provider", "test", "seedcloud", "-o", "json")
    assert result.exit_code == 0, result.output
    assert result.json()["account_info"] == {"username": "seed-user", "credits": 100}
    monkeypatch.setenv("SEED_KEY", "refused")
    refused = prov("provider", "test", "seedcloud", "-o", "json")
    assert refused.exit_code == 1
    assert refused.json()["error"] == "401 Unauthorized"


def test_a_server_is_created_from_the_seeds_records(prov, seed_workspace, prov_home):
    planned = prov("server", "create", "web-1", "--provider", "seedcloud", "--check", "-o", "json")
    assert planned.exit_code == 0, planned.output
    assert not (prov_home / "seedcloud.json").exists()  # check mode made nothing
    made = prov(
        "server", "create", "web-1", "--provider", "seedcloud", "--storage-size", "50", "--wait",
        "-o", "json",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    state = json.loads((prov_home / "seedcloud.json").read_text())
    (record,) = state.values()
    assert record["status"] == "running"
    assert record["storage"] == {"size": 50}
    # defaults.firewall_rules were applied to the new server, ranges as given
    assert [r["port"] for r in record["firewall_rules"]] == [22, 8000]
    listed = prov("server", "list", "--provider", "seedcloud", "-o", "json")
    assert "web-1" in listed.stdout


def test_success_false_is_the_plugins_named_failure(prov, seed_workspace, prov_home):
    result = prov("server", "create", "fail-1", "--provider", "seedcloud")
    assert result.exit_code == 1
    assert (
        "provider 'seedcloud' (prov-fixture-seed 1.0.0): create_server failed: quota exceeded"
        in (result.stderr)
    )
    assert "Traceback" not in result.output


def test_an_os_the_provider_does_not_support_is_refused_before_anything_is_made(
    prov, seed_workspace, prov_home
):
    result = prov("server", "create", "web-1", "--provider", "seedcloud", "--os", "windows-11")
    assert result.exit_code == 2
    assert "os" in result.stderr
    assert "ubuntu-22.04" in result.stderr
    assert not (prov_home / "seedcloud.json").exists()


def test_the_seed_taskserv_installs_reports_and_uninstalls(prov, seed_workspace, prov_home):
    assert prov("server", "create", "web-1", "--provider", "seedcloud", "--wait").exit_code == 0
    plan = prov("taskserv", "install", "my-seed-service", "-s", "web-1", "--check", "-o", "json")
    assert plan.exit_code == 0, plan.output
    assert not (prov_home / "my-seed-service.json").exists()
    done = prov("taskserv", "install", "my-seed-service", "-s", "web-1", "-o", "json")
    assert done.exit_code == 0, done.output
    assert "my-seed-service 1.0.0: running" in done.stdout
    status = prov("taskserv", "status", "my-seed-service", "-s", "web-1", "-o", "json")
    assert status.exit_code == 0, status.output
    (row,) = status.json()["statuses"] if "statuses" in status.json() else status.json()
    assert row["running"] is True
    assert row["memory_mb"] == 128.0
    removed = prov("taskserv", "uninstall", "my-seed-service", "-s", "web-1", "-o", "json")
    assert removed.exit_code == 0, removed.output
    assert json.loads((prov_home / "my-seed-service.json").read_text()) == {}
    versions = prov("taskserv", "versions", "my-seed-service", "-o", "json")
    assert versions.exit_code == 0
    assert "0.9.0" in versions.stdout


def test_storage_still_reads_as_the_dict_it_was_and_says_so():
    from provisioning_core import ServerStorage

    storage = structure({"size": 80, "tier": "standard"}, ServerStorage)  # the old spelling
    assert storage.type == "standard"
    with pytest.warns(DeprecationWarning, match="no longer a dict"):
        assert (storage or {}).get("size") == 80
    with pytest.warns(DeprecationWarning, match="no longer a dict"):
        assert dict(storage)["type"] == "standard"


def test_provider_info_shows_what_is_missing_instead_of_refusing(prov, workspace, monkeypatch):
    monkeypatch.setenv("SEED_KEY", SECRETS["SEED_KEY"])
    workspace(SETTINGS_TOML.replace('api_secret = "${SEED_SECRET}"\n', ""))
    result = prov("provider", "info", "seedcloud", "-o", "json")
    assert result.exit_code == 0, result.output
    (problem,) = result.json()["problems"]
    assert "requires auth.api_secret, which is not set" in problem


def test_uninstall_force_goes_on_past_a_service_that_will_not_stop(prov, seed_workspace, prov_home):
    assert prov("server", "create", "web-1", "--provider", "seedcloud", "--wait").exit_code == 0
    assert prov("taskserv", "install", "my-seed-service", "-s", "web-1").exit_code == 0
    state_file = prov_home / "my-seed-service.json"
    state = json.loads(state_file.read_text())
    for record in state.values():
        record["stuck"] = True  # its stop will fail, as a hung systemd service's does
    state_file.write_text(json.dumps(state))
    refused = prov("taskserv", "uninstall", "my-seed-service", "-s", "web-1")
    assert refused.exit_code == 1
    assert "Failed to stop systemd service" in refused.stderr
    assert json.loads(state_file.read_text()) != {}  # nothing was removed
    forced = prov("taskserv", "uninstall", "my-seed-service", "-s", "web-1", "--force")
    assert forced.exit_code == 0, forced.output
    assert json.loads(state_file.read_text()) == {}
