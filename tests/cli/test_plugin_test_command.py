"""`prov plugin test NAME`: the conformance suite on an installed plugin, in a pytest subprocess."""

from __future__ import annotations

import pytest


@pytest.fixture
def subprocess_sees_fixtures(installed, monkeypatch):
    """The suite runs in a new interpreter: it finds the fixture dists through PYTHONPATH."""
    monkeypatch.setenv("PYTHONPATH", str(installed))
    monkeypatch.delenv("RECORDING_MISBEHAVE", raising=False)
    monkeypatch.delenv("RECORDING_HANG", raising=False)
    return installed


def test_a_conforming_provider_passes_in_its_declared_environment(prov, subprocess_sees_fixtures):
    result = prov("plugin", "test", "recording", "-o", "json")
    assert result.exit_code == 0, result.output
    run = result.json()
    assert run["ok"] is True
    assert run["environment"] == "prov_fixture_recording.conformance:RecordingConformance"
    assert (run["passed"], run["failed"]) == (9, 0)


def test_a_provider_breaking_the_contract_fails_naming_the_rule(
    prov, subprocess_sees_fixtures, monkeypatch
):
    monkeypatch.setenv("RECORDING_MISBEHAVE", "check-creates,unknown-found")
    result = prov("plugin", "test", "recording", "-o", "table")
    assert result.exit_code == 1
    # the ghost server also never goes away after delete_server: the lifecycle fails too
    assert "provider recording breaks the contract: 6 passed, 3 failed" in result.stderr
    assert "create_server breaks the contract: with check=True nothing may be created" in (
        result.stdout
    )
    failed = prov("plugin", "test", "recording", "-o", "json").json()["failures"]
    assert {f["test"] for f in failed} == {
        "test_check_mode_creates_nothing",
        "test_unknown_servers_raise_server_not_found",
        "test_lifecycle",
    }
    assert all("breaks the contract" in f["message"] for f in failed)


def test_a_taskserv_runs_its_own_suite_and_pytest_arguments_pass_through(
    prov, subprocess_sees_fixtures
):
    result = prov("plugin", "test", "rectask", "-o", "json", "--", "-k", "lifecycle")
    assert result.exit_code == 0, result.output
    assert (result.json()["passed"], result.json()["kind"]) == (1, "taskserv")


def test_without_a_declared_environment_the_bare_suite_runs_with_a_warning(
    prov, subprocess_sees_fixtures
):
    # nocheck declares no environment; its default settings reach its real store
    result = prov("plugin", "test", "nocheck", "-o", "table")
    assert "declares no test environment" in result.stderr
    assert result.exit_code == 0, result.output
    assert "test_check_mode_creates_nothing SKIPPED" in result.stdout or "skipped" in result.stderr


def test_unknown_and_unusable_plugins_are_input_errors(prov, subprocess_sees_fixtures):
    missing = prov("plugin", "test", "nosuch")
    assert missing.exit_code == 2
    assert "no plugin called 'nosuch' is installed" in missing.stderr
    incompatible = prov("plugin", "test", "incompatible")
    assert incompatible.exit_code == 2
    assert "cannot be tested: incompatible" in incompatible.stderr
    assert "Traceback" not in incompatible.output


def test_a_write_in_check_mode_is_caught_by_the_backend_counter(
    prov, subprocess_sees_fixtures, monkeypatch
):
    # the plugin's own answers (list_servers) show nothing: only backend_writes can tell
    monkeypatch.setenv("RECORDING_MISBEHAVE", "check-writes")
    run = prov("plugin", "test", "recording", "-o", "json", "--", "-k", "check_mode").json()
    assert (run["ok"], run["verdict"], run["failed"]) == (False, "breaks the contract", 1)
    assert (
        "with check=True no mutating request may reach the backend"
        in (run["failures"][0]["message"])
    )


def test_pytest_arguments_it_refuses_or_that_select_nothing_are_input_errors(
    prov, subprocess_sees_fixtures
):
    refused = prov("plugin", "test", "recording", "--", "--no-such-pytest-flag")
    assert refused.exit_code == 2
    assert "pytest refused the arguments given after --: --no-such-pytest-flag" in refused.stderr
    nothing = prov("plugin", "test", "recording", "--", "-k", "no_such_test")
    assert nothing.exit_code == 2
    assert "no conformance test of 'recording' matched -k no_such_test" in nothing.stderr
    assert "breaks the contract" not in refused.output + nothing.output


def test_a_hung_hook_stops_the_suite_at_the_timeout(prov, subprocess_sees_fixtures, monkeypatch):
    monkeypatch.setenv("RECORDING_HANG", "get_plans")
    result = prov("plugin", "test", "recording", "--timeout", "5", "--", "-k", "plans")
    assert result.exit_code == 1
    assert "did not finish within 5 s and was stopped" in result.stderr
    assert "--timeout" in result.stderr


def test_a_declared_class_of_another_kind_is_refused_by_name(prov, subprocess_sees_fixtures):
    result = prov("plugin", "test", "reccluster", "-o", "json")
    assert result.exit_code == 1
    run = result.json()
    assert run["verdict"] == "could not be tested"
    assert "is not a ClusterConformance" in run["failures"][0]["message"]
