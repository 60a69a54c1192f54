"""Models, the converter's error lines, and the Secret type."""

from __future__ import annotations

import copy
import json
import logging
import pickle

import pytest

from provisioning_core import (
    DataValidationError,
    ExtensionMetadata,
    FirewallRule,
    Price,
    ProviderSettings,
    Secret,
    Server,
    ServerConfig,
    ServerStatus,
    structure,
    unstructure,
)

TOKEN = "tok-3f9a-very-secret"


def test_secret_never_shows_itself(caplog):
    secret = Secret(TOKEN)
    settings = structure({"name": "upcloud", "auth": {"token": TOKEN}}, ProviderSettings)
    texts = [
        repr(secret),
        str(secret),
        f"{secret}",
        f"{secret!r:>40}",
        repr(settings),
        str(settings),
        json.dumps(unstructure(settings)),
    ]
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").warning("settings %s %r", settings, secret)
    texts.append(caplog.text)
    for text in texts:
        assert TOKEN not in text
    assert "********" in texts[0]
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    with pytest.raises(TypeError):
        json.dumps(secret)
    assert copy.deepcopy(settings).auth.token == settings.auth.token
    assert settings.auth.token.reveal() == TOKEN
    assert Secret(TOKEN) == Secret(TOKEN)
    assert Secret(TOKEN) != Secret("other")
    assert not Secret("")


def test_structure_errors_are_one_line_per_problem_with_a_path():
    with pytest.raises(DataValidationError) as err:
        structure(
            {
                "name": "x",
                "auth": {"token": 5},
                "api": {"timeout": "soon", "verify_tls": True, "colour": "red"},
            },
            ProviderSettings,
            what="[providers.x]",
        )
    assert err.value.problems == [
        "invalid value, expected a string @ $.auth.token",
        "expected float, got str @ $.api.timeout",
        "extra fields found (colour) @ $.api",
    ]
    assert str(err.value).startswith("[providers.x] is not a valid ProviderSettings")
    assert err.value.exit_code == 2


def test_models_validate_their_values():
    with pytest.raises(ValueError, match="invalid hostname 'web_1!'"):
        ServerConfig("web_1!", "small", "here")
    with pytest.raises(ValueError, match="invalid direction 'up'"):
        FirewallRule("up", "tcp", "accept")
    with pytest.raises(ValueError, match="expected 1-65535"):
        FirewallRule("in", "tcp", "accept", port=0)
    with pytest.raises(ValueError):
        Server("1", "web", "exploded")
    assert Server("1", "web", "running").status is ServerStatus.RUNNING
    with pytest.raises(TypeError):
        Price("small", None, 0.1)  # hourly is keyword-only
    assert Price("small", hourly=0.1).currency == "EUR"


def test_defaults_follow_the_contract():
    config = ServerConfig("web-1", "small", "here")
    assert (config.os, config.ssh_keys, config.tags, config.storage) == (
        "ubuntu-22.04",
        [],
        {},
        None,
    )
    meta = ExtensionMetadata("x", "1.0", "taskserv")
    assert (meta.description, meta.dependencies, meta.author, meta.repository) == (
        "",
        [],
        None,
        None,
    )
    round_trip = structure(unstructure(config), ServerConfig)
    assert round_trip == config


def test_lists_may_mix_instances_and_dicts():
    servers = structure(
        [Server("1", "a", "running"), {"id": "2", "hostname": "b", "status": "stopped"}],
        list[Server],
    )
    assert [s.status for s in servers] == [ServerStatus.RUNNING, ServerStatus.STOPPED]
    with pytest.raises(DataValidationError) as err:
        structure([{"id": "2", "hostname": "b"}], list[Server], what="result")
    assert err.value.problems == ["required field missing @ $[0].status"]
    assert "is not a valid list[Server]" in str(err.value)


def test_timestamps_with_z_read_on_every_python():
    from provisioning_core import TaskservVersion

    version = structure(
        {"version": "1.7.0", "released_at": "2024-01-15T10:00:00Z"}, TaskservVersion
    )
    assert version.released_at is not None
    assert version.released_at.utcoffset().total_seconds() == 0


@pytest.mark.parametrize(
    ("data", "cls", "problem"),
    [
        ({"ok": "false"}, "ConnectionResult", "expected bool, got str @ $.ok"),
        ({"name": "p", "cores": 2.9}, "Plan", "expected int, got float @ $.cores"),
        ({"name": "p", "memory_mb": True}, "Plan", "expected int, got a boolean @ $.memory_mb"),
        ({"id": 5, "hostname": "h", "status": "running"}, "Server", "expected str, got int @ $.id"),
        (
            {"id": "5", "hostname": "h", "status": "running", "ip_addresses": "1.2.3.4"},
            "Server",
            "expected a list, got str @ $.ip_addresses",
        ),
        (
            {"name": "x", "auth": "tok"},
            "ProviderSettings",
            "expected a table (mapping), got str @ $.auth",
        ),
    ],
)
def test_nothing_is_coerced(data, cls, problem):
    import provisioning_core

    with pytest.raises(DataValidationError) as err:
        structure(data, getattr(provisioning_core, cls))
    assert problem in err.value.problems


def test_the_mask_is_never_taken_for_a_credential():
    with pytest.raises(DataValidationError) as err:
        structure({"name": "x", "auth": {"token": "********"}}, ProviderSettings)
    assert "is the mask '********', not a credential" in str(err.value)


def test_errors_pickle_with_their_attributes():
    from provisioning_core import MissingDependency

    error = MissingDependency(
        "needs x", kind="taskserv", name="k", distribution="d", version="1", missing=["x"], hint="h"
    )
    copy_ = pickle.loads(pickle.dumps(error))
    assert (str(copy_), copy_.missing, copy_.hint, copy_.exit_code) == (
        str(error),
        ["x"],
        "h",
        error.exit_code,
    )


def test_firewall_rules_as_the_seed_writes_them():
    """The seed's FirewallRule: ingress/egress, allow/deny, port a string, destination."""
    from provisioning_core import FirewallRule, structure, unstructure

    seed = [
        {
            "direction": "ingress",
            "protocol": "tcp",
            "port": "22",
            "action": "allow",
            "source": "0.0.0.0/0",
        },
        {"direction": "ingress", "protocol": "tcp", "port": "8000-8100", "action": "allow"},
        {
            "direction": "egress",
            "protocol": "udp",
            "port": "53",
            "action": "deny",
            "destination": "10.0.0.2",
        },
    ]
    rules = [structure(r, FirewallRule) for r in seed]
    assert rules == [
        FirewallRule("in", "tcp", "accept", 22, "0.0.0.0/0"),
        FirewallRule("in", "tcp", "accept", 8000, port_end=8100),
        FirewallRule("out", "udp", "drop", 53, destination="10.0.0.2"),
    ]
    assert [r.ports for r in rules] == [(22, 22), (8000, 8100), (53, 53)]
    assert FirewallRule("in", "any", "accept").ports is None
    # ours is what reads back, and structures again to the same rule
    assert unstructure(rules[1]) == {
        "direction": "in", "protocol": "tcp", "action": "accept", "port": 8000,
        "source": None, "destination": None, "port_end": 8100,
    }  # fmt: skip
    assert structure(unstructure(rules[1]), FirewallRule) == rules[1]
    for bad, message in [
        ({"port": "8100-8000"}, "invalid port_end 8000: expected 8100-65535 (at least port)"),
        ({"port": "http"}, "port 'http' is not a number 1-65535, a range N-M or *"),
        ({"port": "1-2", "port_end": 3}, "port '1-2' is a range and port_end is given too"),
        ({"port_end": 3}, "invalid port_end 3: a range needs its first port, port"),
        ({"action": "permit"}, "invalid action 'permit': expected one of accept, drop, reject"),
    ]:
        rule = {"direction": "in", "protocol": "tcp", "action": "accept", **bad}
        with pytest.raises(DataValidationError) as caught:
            structure(rule, FirewallRule)
        assert caught.value.problems == [f"{message} @ $"], bad


def test_redact_masks_whole_values_of_a_safe_length_only():
    from provisioning_core.secret import MIN_MASKED_LENGTH, redact, short_secrets

    assert MIN_MASKED_LENGTH == 8
    # a short secret would mask ordinary words, and where the stars fell would tell it
    assert redact('"name": "local", localhost', Secret("local")) == '"name": "local", localhost'
    assert short_secrets({"password": Secret("local")}, Secret("long-enough-1")) == 1
    # a medium one is masked where it stands whole, not inside another word
    assert redact("pw=hunter22 hunter223 xhunter22 hunter22.", Secret("hunter22")) == (
        "pw=******** hunter223 xhunter22 ********."
    )
    # a long one wherever it is: no ordinary word is that long, and a leak matters more
    assert redact("Bearerx0123456789abcdefx", Secret("0123456789abcdef")) == "Bearerx********x"
    # edges that are not letters or digits need no boundary
    assert redact("k=-pw-4242-4242-", Secret("-pw-4242-4242-")) == "k=********"
    assert redact("", Secret("hunter22")) == ""
