"""The conformance suite run, as a plugin author runs it, against the fixture plugins:
it passes a plugin that keeps the contract and fails one that breaks it, saying how."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest


def run_suite(
    tmp_path: Path, site: Path, body: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """Write ``body`` as a test module and run pytest on it in a fresh process."""
    project = tmp_path / "suite"
    project.mkdir()
    (project / "test_suite.py").write_text(textwrap.dedent(body), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROV_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


PROVIDER = """
import pytest
from provisioning_core import ProviderSettings
from provisioning_core.testing import ProviderConformance

class TestRecording(ProviderConformance):
    provider = "recording"
    poll_interval = 0.01

    @pytest.fixture
    def provider_settings(self, prov_home):
        return ProviderSettings(name="recording", options={OPTIONS})
"""


def test_a_provider_that_keeps_the_contract_passes(tmp_path, plugin_site):
    result = run_suite(
        tmp_path, plugin_site, PROVIDER.replace("{OPTIONS}", '{"boot_polls": 2}'), "-rs"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "9 passed" in result.stdout


def test_a_provider_that_creates_in_check_mode_fails_saying_how(tmp_path, plugin_site):
    body = PROVIDER.replace("{OPTIONS}", '{"misbehave": ["check-creates"]}')
    result = run_suite(tmp_path, plugin_site, body)
    assert result.returncode == 1
    assert "1 failed, 8 passed" in result.stdout
    assert "FAILED test_suite.py::TestRecording::test_check_mode_creates_nothing" in result.stdout
    assert (
        "recording: create_server breaks the contract: with check=True nothing may be created"
        in result.stdout
    )
    assert "see the hook reference: provisioning-core docs/hooks.md#create_server" in result.stdout


def test_a_provider_that_finds_unknown_servers_fails_saying_how(tmp_path, plugin_site):
    body = PROVIDER.replace("{OPTIONS}", '{"misbehave": "unknown-found"}')
    result = run_suite(tmp_path, plugin_site, body)
    assert result.returncode == 1
    assert "test_unknown_servers_raise_server_not_found" in result.stdout
    assert (
        "get_server_info breaks the contract: an unknown server id must raise ServerNotFound"
        in result.stdout
    )


def test_a_hook_that_hangs_fails_its_test_naming_the_hook(tmp_path, plugin_site):
    body = PROVIDER.replace("{OPTIONS}", '{"hang": "get_zones", "hang_seconds": 60}').replace(
        "    poll_interval = 0.01\n", "    poll_interval = 0.01\n    hook_timeout = 1.0\n"
    )
    result = run_suite(tmp_path, plugin_site, body, "-k", "zones_are")
    assert result.returncode == 1
    assert "get_zones did not return within 1 s" in result.stdout


TASKSERV = """
import pytest
from provisioning_core import Server, SshAccess
from provisioning_core.testing import TaskservConformance

class TestRectask(TaskservConformance):
    taskserv = "rectask"
    poll_interval = 0.01

    @pytest.fixture
    def taskserv_target(self):
        return Server(id="srv-1", hostname="web-1", status="running"), SshAccess(host="127.0.0.1")

    @pytest.fixture
    def taskserv_settings(self):
        return {SETTINGS}
"""


def test_a_taskserv_that_keeps_the_contract_passes(tmp_path, plugin_site):
    result = run_suite(tmp_path, plugin_site, TASKSERV.replace("{SETTINGS}", "{}"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout


def test_a_taskserv_whose_install_is_not_idempotent_fails_saying_how(tmp_path, plugin_site):
    body = TASKSERV.replace("{SETTINGS}", '{"misbehave": ["reinstall-changes"]}')
    result = run_suite(tmp_path, plugin_site, body)
    assert result.returncode == 1
    assert "rectask: install breaks the contract: install is idempotent" in result.stdout


def test_a_taskserv_suite_without_a_target_says_what_to_override(tmp_path, plugin_site):
    body = TASKSERV.replace("{SETTINGS}", "{}").replace(
        "    @pytest.fixture\n    def taskserv_target(self):\n", "    def unused(self):\n"
    )
    result = run_suite(tmp_path, plugin_site, body)
    assert result.returncode == 1
    assert "override the taskserv_target fixture" in result.stdout


CLUSTER = """
import pytest
from provisioning_core import ClusterConfig
from provisioning_core.testing import ClusterConformance

class TestCluster(ClusterConformance):
    cluster = "{CLUSTER}"
    poll_interval = 0.01
"""


ENGINE = """
    @pytest.fixture
    def workspace_toml(self):
        return "[operations]\\nwait_interval = 0.05\\n"

    @pytest.fixture
    def cluster_config(self, prov):
        created = prov(
            "server", "create", "web", "-p", "recording", "--plan", "small",
            "--zone", "test-1", "--count", "2", "--wait",
        )
        assert created.exit_code == 0, created.output
        return ClusterConfig(name="ci", servers=["web-1", "web-2"])
"""


@pytest.mark.parametrize(
    ("cluster", "extra"),
    [("reccluster", ""), ("recdeploy", ENGINE)],
    ids=["plugin-deploys", "engine-deploys"],
)
def test_a_cluster_that_keeps_the_contract_passes(tmp_path, plugin_site, cluster, extra):
    result = run_suite(tmp_path, plugin_site, CLUSTER.replace("{CLUSTER}", cluster) + extra)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


SEED = """
import pytest
from provisioning_core import ProviderApi, ProviderAuth, ProviderSettings, Secret, Server, SshAccess
from provisioning_core.testing import ProviderConformance, TaskservConformance

class TestSeedCloud(ProviderConformance):
    provider = "seedcloud"
    poll_interval = 0.01

    @pytest.fixture
    def provider_settings(self, prov_home):
        return ProviderSettings(
            name="seedcloud",
            auth=ProviderAuth(method="api_key", api_key=Secret("k" * 20), api_secret=Secret("s" * 20)),
            api=ProviderApi(base_url="https://api.test.com"),
        )

class TestSeedService(TaskservConformance):
    taskserv = "my-seed-service"
    poll_interval = 0.01

    @pytest.fixture
    def taskserv_target(self, prov_home):
        return Server(id="srv-1", hostname="web-1", status="running"), SshAccess(host="127.0.0.1")
"""


def test_the_seed_shaped_plugins_pass_the_conformance_suites(tmp_path, plugin_site):
    # their hooks return dicts exactly as the seed's Nushell functions do
    result = run_suite(tmp_path, plugin_site, SEED, "-rs")
    assert result.returncode == 0, result.stdout + result.stderr
    assert " failed" not in result.stdout
