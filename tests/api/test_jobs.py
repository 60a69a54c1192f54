"""Jobs of the operations layer: requests as data, checked before anything runs; run on
real engines against a real inventory; recorded, and recovered after a crash."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from provisioning_core.config import load_config
from provisioning_core.errors import ConfigError, DataValidationError, InputError
from provisioning_core.operations.jobs import Jobs
from provisioning_core.operations.requests import JOB_KINDS, ServerCreateRequest
from provisioning_core.schema import json_schema
from provisioning_core.state import Inventory


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PROV_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_every_mutating_command_is_a_job_kind() -> None:
    expected = {
        "server.create", "server.start", "server.stop", "server.reboot", "server.delete",
        "server.firewall", "taskserv.install", "taskserv.uninstall", "taskserv.configure",
        "taskserv.restart", "taskserv.upgrade", "cluster.create", "cluster.delete",
        "cluster.scale", "cluster.upgrade", "cluster.restart_component",
    }  # fmt: skip
    assert set(JOB_KINDS) == expected


def test_a_request_is_refused_naming_each_field_before_anything_runs() -> None:
    kind = JOB_KINDS["server.create"]
    with pytest.raises(DataValidationError) as unknown:
        kind.prepare({"hostname": "web-1", "provider": "local", "colour": "red"})
    assert "colour" in str(unknown.value)
    with pytest.raises(InputError) as bad:
        kind.prepare({"hostname": "web_1!", "provider": "local"})
    assert "@ $.hostname" in str(bad.value)
    with pytest.raises(InputError) as rule:
        kind.prepare(
            {"hostname": "web", "provider": "local", "firewall_rules": ["in,tcp,0,accept"]}
        )
    assert "@ $.firewall_rules[0]" in str(rule.value)


def test_the_server_reads_no_file_a_request_names(tmp_path: Path) -> None:
    key = tmp_path / "id.pub"
    key.write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE me@host\n")
    with pytest.raises(InputError) as refused:
        JOB_KINDS["server.create"].prepare(
            {"hostname": "web", "provider": "local", "ssh_keys": [str(key)]}
        )
    assert "@ $.ssh_keys[0]" in str(refused.value)
    ok = JOB_KINDS["server.create"].prepare(
        {"hostname": "web", "provider": "local", "ssh_keys": [key.read_text()]}
    )
    assert ok.ssh_keys == [key.read_text()]


def test_cluster_actions_need_their_arguments() -> None:
    with pytest.raises(InputError, match=r"\$\.replicas"):
        JOB_KINDS["cluster.scale"].prepare({"name": "ci"})
    with pytest.raises(InputError, match=r"\$\.servers"):
        JOB_KINDS["taskserv.install"].prepare({"name": "my-service", "servers": []})


def test_the_request_schema_is_generated_from_the_record() -> None:
    definitions: dict[str, object] = {}
    schema = json_schema(ServerCreateRequest, definitions)
    assert schema["required"] == ["hostname", "provider"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["count"]["default"] == 1
    assert schema["properties"]["storage"]["anyOf"][0] == {
        "$ref": "#/components/schemas/ServerStorage"
    }
    assert set(definitions) == {"ServerStorage", "ServerNetwork"}


def test_api_settings_are_checked_and_the_token_is_a_secret(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROV_API_TOKEN", "a-long-enough-token-0123")
    api = load_config().api
    assert (api.host, api.port, api.workers) == ("127.0.0.1", 8765, 4)
    assert api.token is not None
    assert api.token.reveal() == "a-long-enough-token-0123"
    assert "a-long-enough-token" not in repr(api)
    errors = load_config(overrides={"api": {"port": 70000}}).validate()
    assert any("$.api.port" in str(e) for e in errors)
    with pytest.raises(ConfigError):
        _ = load_config(overrides={"api": {"workers": 0}}).api


def test_a_failed_job_is_recorded_with_the_error_the_cli_prints(home: Path) -> None:
    jobs = Jobs(load_config, workers=1)
    try:
        kind = JOB_KINDS["server.start"]
        job = jobs.submit(kind, kind.prepare({"servers": ["nowhere-1"]}))
        assert job.done.wait(60)
        data = jobs.get(job.id)
        assert data is not None
        # an unknown server is refused input, as the CLI exits: 2
        assert data["status"] == "failed"
        assert data["exit_code"] == 2
        # refused before any target was worked on: no report, the error the CLI prints
        assert data["report"] is None
        assert "nowhere-1" in data["error"]
        assert [j["id"] for j in jobs.recent()] == [job.id]
    finally:
        jobs.shutdown()
    with Inventory() as inventory:  # another process's view: the record on disk
        record = inventory.job(job.id)
        assert record is not None
        assert record.status == "failed"


def test_a_check_job_writes_nothing(home: Path) -> None:
    jobs = Jobs(load_config, workers=1)
    try:
        kind = JOB_KINDS["server.start"]
        job = jobs.submit(kind, kind.prepare({"servers": ["web-1"]}), check=True)
        assert job.done.wait(60)
        data = jobs.get(job.id)
        assert data is not None
        assert data["check"] is True
    finally:
        jobs.shutdown()
    assert not (home / "inventory.sqlite3").exists()


def test_jobs_of_a_killed_server_are_marked_interrupted(home: Path) -> None:
    script = (
        "import os\n"
        "from provisioning_core.state import Inventory\n"
        "inv = Inventory()\n"
        "inv.create_job('deadbeef', 'server.create', {'hostname': 'web-1'})\n"
        "inv.start_job('deadbeef')\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, env=os.environ.copy())
    jobs = Jobs(load_config)
    try:
        assert jobs.recover() == ["deadbeef"]
        data = jobs.get("deadbeef")
        assert data is not None
        assert data["status"] == "interrupted"
        assert "ended before the job finished" in data["error"]
        assert jobs.recover() == []
    finally:
        jobs.shutdown()
