"""The plugin as the core meets it: valid, its settings checked, its versions listed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import jinja2
import pytest
from provisioning_core import (
    ConfigError,
    ExtensionManager,
    TaskservInfo,
    TaskservVersion,
    validate_extension,
)

from provisioning_taskserv_my_service import payload, plugin
from provisioning_taskserv_my_service.settings import Settings, parse_settings

PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture
def my_service():
    manager = ExtensionManager.make_test_instance({("taskserv", "my-service"): plugin})
    return manager.load_extension("taskserv", "my-service")


def test_project_is_valid() -> None:
    report = validate_extension(PROJECT, "taskserv", strict=True)
    assert report.valid, report.errors
    assert report.warnings == []


def test_every_hook_is_implemented_and_mutating_ones_accept_check(my_service) -> None:
    assert my_service.unsupported == []
    for hook in ("install", "uninstall", "configure", "restart", "upgrade"):
        assert my_service.accepts(hook, "check"), hook


def test_info_describes_a_bundled_service_with_an_http_health_check(my_service) -> None:
    info: TaskservInfo = my_service.call("taskserv_info")
    assert info.name == "my-service"
    assert info.version == "1.1.0"
    assert info.source is not None
    assert info.source.type == "bundled"
    assert info.install is not None
    assert info.install.method == "bundled"
    assert info.install.data_dir == "/var/lib/my-service"
    assert info.service is not None
    assert info.service.ports == [8080, 9090]
    assert info.health_check is not None
    assert (info.health_check.type, info.health_check.endpoint, info.health_check.port) == (
        "http",
        "/health",
        8080,
    )


def test_available_versions_are_the_shipped_ones_newest_first(my_service) -> None:
    versions: list[TaskservVersion] = my_service.call("get_available_versions", settings={})
    assert [v.version for v in versions] == ["1.1.0", "1.0.0"]
    for v in versions:
        assert v.sha256 == hashlib.sha256(payload.binary(v.version)).hexdigest()
        assert not v.prerelease


def test_an_unknown_version_is_refused_naming_the_shipped_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        payload.require("2.0.0")
    assert "my-service has no version '2.0.0': this plugin ships 1.1.0, 1.0.0" in str(caught.value)
    assert "--version" in str(caught.value.hint)


def test_versions_are_told_apart_by_digest_or_by_what_the_binary_declares() -> None:
    for version in payload.versions():
        assert payload.shipped_version(hashlib.sha256(payload.binary(version)).hexdigest()) == (
            version
        )
    edited = payload.binary("1.0.0") + b"# edited on the host\n"
    assert payload.shipped_version(hashlib.sha256(edited).hexdigest()) is None
    assert payload.declared_version(edited) == "1.0.0"
    assert payload.declared_version(b"#!/bin/sh\necho hi\n") == "unknown"


def test_settings_default() -> None:
    assert parse_settings({}) == Settings()
    assert Settings().port == 8080
    assert Settings().metrics_port == 9090


def test_settings_problems_are_reported_together_with_their_paths() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings({"gretting": "hi", "port": "80", "log_level": "loud", "metrics_port": 0})
    error = caught.value
    assert error.exit_code == 2
    assert error.problems == [
        "unknown setting (known: port, metrics_port, listen, greeting, log_level, python) @ taskservs.my-service.gretting",
        "expected int, got str @ taskservs.my-service.port",
        "invalid port 0: expected 1-65535 @ taskservs.my-service.metrics_port",
        "invalid log level 'loud': expected one of debug, info, warning, error @ taskservs.my-service.log_level",
    ]
    assert "[taskservs.my-service]" in str(error.hint)


def test_a_bool_is_not_a_port_and_the_ports_must_differ() -> None:
    with pytest.raises(ConfigError, match=r"expected int, got bool @ taskservs.my-service.port"):
        parse_settings({"port": True})
    with pytest.raises(ConfigError, match=r"port and metrics_port are both 9000"):
        parse_settings({"port": 9000, "metrics_port": 9000})


def test_bad_settings_fail_before_any_connection(my_service) -> None:
    from provisioning_core import Server, SshAccess

    # nothing listens on port 1: had it tried to connect, the error would be another one
    server = Server(id="x", hostname="web-1", status="running", ip_addresses=["127.0.0.1"])
    with pytest.raises(ConfigError, match="invalid settings for taskserv my-service"):
        my_service.call(
            "status", server=server, ssh=SshAccess(host="127.0.0.1", port=1), settings={"x": 1}
        )
    with pytest.raises(ConfigError, match=r"no version '9\.9'"):
        my_service.call(
            "install",
            server=server,
            ssh=SshAccess(host="127.0.0.1", port=1),
            version="9.9",
            settings={},
            check=False,
        )


def test_the_config_template_renders_valid_json_for_awkward_greetings() -> None:
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    greeting = 'say "hi" & <wave>\\ \u00e9'
    text = environment.from_string(payload.config_template()).render(
        listen="::",
        port=8080,
        metrics_port=9090,
        data_dir="/var/lib/my-service",
        log_level="info",
        greeting=greeting,
    )
    assert json.loads(text) == {
        "listen": "::",
        "port": 8080,
        "metrics_port": 9090,
        "data_dir": "/var/lib/my-service",
        "log_level": "info",
        "greeting": greeting,
    }
