"""Every hook of the upcloud provider, through the core's loader, against the emulator."""

from __future__ import annotations

import logging

import pytest
from provisioning_core import (
    ConfigError,
    FirewallRule,
    ProviderApi,
    ProviderAuth,
    ProviderSettings,
    Secret,
    ServerNotFound,
    TransientError,
)
from upcloud_support import PASSWORD, USERNAME

from provisioning_provider_upcloud import records
from provisioning_provider_upcloud.emulator import TEMPLATES


def settings_with(settings: ProviderSettings, **changes) -> ProviderSettings:
    import attrs

    return attrs.evolve(settings, **changes)


# -- describing and checking ---------------------------------------------------


def test_provider_info(upcloud):
    info = upcloud.call("provider_info")
    assert (info.name, info.version) == ("upcloud", "0.1.0")
    assert "fi-hel1" in info.regions


def test_validate_config_accepts_a_token_or_a_username_and_password(upcloud, settings):
    assert upcloud.call("validate_config").valid
    basic = settings_with(settings, auth=ProviderAuth(username=USERNAME, password=Secret(PASSWORD)))
    report = upcloud.call("validate_config", settings=basic)
    assert report.valid, report.errors
    assert report.checks == {"auth": "passed", "api": "passed", "options": "passed"}


@pytest.mark.parametrize(
    ("auth", "problem"),
    [
        (ProviderAuth(), "no credentials"),
        (ProviderAuth(username=USERNAME), "has no password @ $.providers.upcloud.auth.password"),
        (ProviderAuth(password=Secret(PASSWORD)), "a password without a username"),
        (ProviderAuth(token=Secret("")), "no credentials"),
    ],
)
def test_validate_config_refuses_missing_credentials(upcloud, settings, auth, problem):
    report = upcloud.call("validate_config", settings=settings_with(settings, auth=auth))
    assert not report.valid
    assert report.checks["auth"] == "failed"
    assert any(problem in error for error in report.errors), report.errors
    assert PASSWORD not in str(report)


def test_validate_config_checks_the_api_and_options(upcloud, settings):
    bad = settings_with(
        settings,
        api=ProviderApi(base_url="ftp://example.com/1.3", timeout=0),
        options={"storage_tier": "gold", "poll_interval": -1, "colour": "blue"},
    )
    report = upcloud.call("validate_config", settings=bad)
    assert not report.valid
    text = "\n".join(report.errors)
    assert "is not an http(s) URL" in text
    assert "@ $.providers.upcloud.api.timeout" in text
    assert "storage_tier must be one of maxiops, standard, hdd" in text
    assert "@ $.providers.upcloud.options.poll_interval" in text
    assert any("unknown option 'colour'" in w for w in report.warnings)
    plain = settings_with(settings, api=ProviderApi(base_url="http://upcloud.example/2.0"))
    warnings = "\n".join(upcloud.call("validate_config", settings=plain).warnings)
    assert "plain http" in warnings
    assert "does not end in /1.3" in warnings


def test_test_connection_logs_in_with_a_token_and_with_basic_auth(upcloud, settings, emulator):
    result = upcloud.call("test_connection")
    assert result.ok, result.message
    assert result.details["username"] == USERNAME
    basic = settings_with(settings, auth=ProviderAuth(username=USERNAME, password=Secret(PASSWORD)))
    assert upcloud.call("test_connection", settings=basic).ok
    assert [(r.auth, r.authenticated) for r in emulator.requests] == [
        ("bearer", True),
        ("basic", True),
    ]


def test_test_connection_reports_refused_credentials_without_raising(upcloud, settings):
    wrong = settings_with(settings, auth=ProviderAuth(token=Secret("wrong-token")))
    result = upcloud.call("test_connection", settings=wrong)
    assert not result.ok
    assert "AUTHENTICATION_FAILED" in result.message
    assert "wrong-token" not in result.message
    missing = upcloud.call("test_connection", settings=settings_with(settings, auth=ProviderAuth()))
    assert not missing.ok
    assert "no UpCloud credentials" in missing.message


def test_test_connection_reports_an_unreachable_endpoint(upcloud, settings):
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    gone = settings_with(settings, api=ProviderApi(base_url=f"http://127.0.0.1:{port}/1.3"))
    result = upcloud.call("test_connection", settings=gone)
    assert not result.ok
    assert f"cannot reach http://127.0.0.1:{port}/1.3" in result.message


# -- catalogue -------------------------------------------------------------------


def test_zones_and_plans(upcloud):
    zones = upcloud.call("get_zones")
    assert [z.name for z in zones] == ["de-fra1", "fi-hel1", "uk-lon1", "us-nyc1"]
    assert zones[1].description == "Helsinki #1"
    plans = {p.name: p for p in upcloud.call("get_plans")}
    assert plans["2xCPU-4GB"].cores == 2
    assert plans["2xCPU-4GB"].memory_mb == 4096
    assert plans["2xCPU-4GB"].storage_gb == 80


def test_pricing_uses_per_plan_prices_when_the_api_gives_them(upcloud, emulator):
    emulator.price_shape = "plans"
    prices = {(p.plan, p.zone): p for p in upcloud.call("get_pricing")}
    assert len(prices) == 4 * 4
    assert prices["1xCPU-1GB", "de-fra1"].hourly == pytest.approx(0.00744)  # 0.744 cents
    assert prices["1xCPU-1GB", "uk-lon1"].hourly == pytest.approx(0.00744 * 1.05, rel=1e-3)
    assert {p.currency for p in prices.values()} == {"EUR"}


def test_pricing_derives_prices_from_components_otherwise(upcloud, emulator):
    emulator.price_shape = "components"
    prices = {(p.plan, p.zone): p for p in upcloud.call("get_pricing")}
    assert len(prices) == 4 * 4
    # 1 core * 0.6 + 1024/256 * 0.15 + 25 GB maxiops * 0.028 cents
    assert prices["1xCPU-1GB", "de-fra1"].hourly == pytest.approx(0.019)
    plans = {p.name for p in upcloud.call("get_plans")}
    zones = {z.name for z in upcloud.call("get_zones")}
    assert {plan for plan, _ in prices} == plans
    assert {zone for _, zone in prices} == zones


def test_pricing_never_crashes_on_odd_shapes():
    plans = [
        {"name": "a", "core_number": 1, "memory_amount": 1024, "storage_size": 10},
        {"name": "b", "core_number": "x", "memory_amount": 1024},
    ]
    zones = [
        {"name": "z1", "server_plan_a": {"amount": 1, "price": 2}, "server_plan_b": "free"},
        {"name": "z2", "server_core": {"amount": 0, "price": 1}, "server_memory": {"price": 1}},
        {
            "name": "z3",
            "server_core": {"amount": 1, "price": 1},
            "server_memory": {"amount": 256, "price": 1},
        },
        {"name": "z4"},
        "garbage",
        {"name": "unknown-zone", "server_plan_a": {"amount": 1, "price": 1}},
    ]
    prices = records.prices(zones, plans, {"z1", "z2", "z3", "z4"})
    assert [(p.plan, p.zone, p.hourly) for p in prices] == [("a", "z1", 0.02), ("a", "z3", 0.05)]


# -- creating ----------------------------------------------------------------------


def test_check_mode_create_describes_the_request_and_sends_no_write(upcloud, emulator, caplog):
    caplog.set_level(logging.INFO, logger="provisioning.providers.upcloud")
    rules = [FirewallRule("in", "tcp", "accept", port=22)]
    server = upcloud.create("web-1", check=True, tags={"env": "prod"}, firewall_rules=rules)
    assert (server.id, server.status, server.zone, server.tags) == (
        "",
        "creating",
        "fi-hel1",
        {"env": "prod"},
    )
    assert emulator.writes == 0
    assert {r.method for r in emulator.requests} == {"GET"}
    assert emulator.server_ids == []
    described = caplog.text
    assert f"would POST {emulator.base_url}/server" in described
    assert '"hostname": "web-1"' in described
    assert '"storage": "01000000-0000-4000-8000-000030240200"' in described
    assert "/firewall_rule" in described


def test_create_sends_plan_zone_os_login_user_and_labels(upcloud, emulator, settings):
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHh2 me@laptop"
    settings = settings_with(settings, defaults=settings.defaults.__class__(ssh_user="deploy"))
    server = upcloud.call(
        "create_server",
        settings=settings,
        config=upcloud_config(ssh_keys=[key], tags={"env": "prod", "team": "web"}, os="debian-12"),
        check=False,
    )
    assert server.status == "creating"
    assert server.tags == {"env": "prod", "team": "web"}
    assert server.ip_addresses[0].startswith("198.18.")
    detail = emulator.server(server.id)
    assert (detail["hostname"], detail["title"], detail["plan"], detail["zone"]) == (
        "web-1",
        "web-1",
        "1xCPU-1GB",
        "fi-hel1",
    )
    assert detail["state"] == "maintenance"
    assert detail["firewall"] == "off"
    (disk,) = detail["storage_devices"]["storage_device"]
    assert disk["storage_size"] == 25  # the plan's storage
    login = emulator.login_user(server.id)
    assert login["username"] == "deploy"
    assert login["ssh_keys"]["ssh_key"] == [key]
    assert upcloud.wait(server.id, "running").hostname == "web-1"
    assert emulator.writes == 1


def test_create_applies_the_seeds_storage_and_network(upcloud, emulator, settings):
    from provisioning_core import ServerNetwork, ServerStorage

    server = upcloud.call(
        "create_server",
        settings=settings,
        config=upcloud_config(
            storage=ServerStorage(size=50, type="hdd"),
            network=ServerNetwork(public_ip=False, private_network="03000000-0000-4000-8000-0001"),
        ),
        check=False,
    )
    detail = emulator.server(server.id)
    (disk,) = detail["storage_devices"]["storage_device"]
    assert (disk["storage_size"], disk["storage_tier"], disk["storage_encrypted"]) == (
        50,
        "hdd",
        "yes",  # the seed's default: encrypted
    )
    access = {a["access"] for a in detail["ip_addresses"]["ip_address"]}
    assert access == {"utility", "private"}  # no public address, as asked


def test_create_refuses_what_upcloud_cannot_do(upcloud, emulator, settings):
    from provisioning_core import ConfigError, ServerNetwork, ServerStorage

    with pytest.raises(ConfigError, match="no storage tier 'gp3'"):
        upcloud.call(
            "create_server",
            settings=settings,
            config=upcloud_config(storage=ServerStorage(type="gp3")),
            check=False,
        )
    with pytest.raises(ConfigError, match="no bandwidth cap"):
        upcloud.call(
            "create_server",
            settings=settings,
            config=upcloud_config(network=ServerNetwork(bandwidth=100)),
            check=False,
        )
    assert emulator.writes == 0


def upcloud_config(**kwargs):
    from provisioning_core import ServerConfig

    return ServerConfig(
        hostname=kwargs.pop("hostname", "web-1"),
        plan=kwargs.pop("plan", "1xCPU-1GB"),
        zone=kwargs.pop("zone", "fi-hel1"),
        **kwargs,
    )


def test_os_names_map_onto_templates():
    titles = [t["title"] for t in TEMPLATES]
    assert sorted(records.os_slug(t) for t in titles) == [
        "debian-12",
        "rocky-9",
        "ubuntu-22.04",
        "ubuntu-24.04",
    ]
    templates = [
        *TEMPLATES,
        {"uuid": "x", "title": "Ubuntu Server 24.04 LTS (Noble Numbat) Minimal"},
    ]
    assert records.template_for("ubuntu-24.04", templates)["uuid"].endswith("030240200")
    assert records.template_for("Rocky Linux 9", templates)["uuid"].endswith("150020100")
    uuid = "01000000-0000-4000-8000-000020070100"
    assert records.template_for(uuid, templates)["uuid"] == uuid


def test_an_unknown_os_or_plan_is_refused_before_any_write(upcloud, emulator):
    with pytest.raises(ConfigError) as caught:
        upcloud.create(os="windows-3.1")
    assert caught.value.exit_code == 2
    assert (
        "unknown os 'windows-3.1'; UpCloud offers: debian-12, rocky-9, ubuntu-22.04, ubuntu-24.04 @ --os"
        in str(caught.value)
    )
    with pytest.raises(ConfigError, match=r"unknown plan 'huge'; allowed: 1xCPU-1GB"):
        upcloud.create(plan="huge")
    with pytest.raises(
        ConfigError, match=r"a port needs protocol tcp or udp, not icmp @ \$.rules\[0\]"
    ):
        upcloud.create(firewall_rules=[FirewallRule("in", "icmp", "accept", port=1)])
    assert emulator.writes == 0


def test_create_with_rules_turns_the_firewall_on(upcloud, emulator):
    rules = [FirewallRule("in", "tcp", "accept", port=22, source="10.0.0.0/8")]
    server = upcloud.create(firewall_rules=rules)
    detail = emulator.server(server.id)
    assert detail["firewall"] == "on"
    (rule,) = emulator_rules(emulator, server.id)
    assert (rule["source_address_start"], rule["source_address_end"]) == (
        "10.0.0.0",
        "10.255.255.255",
    )
    assert (rule["destination_port_start"], rule["protocol"], rule["family"]) == (
        "22",
        "tcp",
        "IPv4",
    )


def emulator_rules(emulator, server_id):
    with emulator._lock:
        return [dict(r) for r in emulator._machines[server_id].rules]


# -- life cycle ----------------------------------------------------------------------


def test_lifecycle_waits_out_maintenance_and_deletes_storages(upcloud, emulator):
    server = upcloud.create()
    assert emulator.server(server.id)["state"] == "maintenance"
    # stop right away: the server is still being created, so the hook waits first
    upcloud.call("stop_server", server_id=server.id)
    upcloud.wait(server.id, "stopped")
    upcloud.call("start_server", server_id=server.id)
    upcloud.wait(server.id, "running")
    upcloud.call("reboot_server", server_id=server.id)
    upcloud.wait(server.id, "running")
    assert [s.id for s in upcloud.call("list_servers")] == [server.id]
    assert len(emulator.storage_ids) == 1
    # delete a running server: stopped first, as UpCloud requires, then deleted with its disk
    upcloud.call("delete_server", server_id=server.id)
    assert emulator.server_ids == []
    assert emulator.storage_ids == []
    assert emulator.count("DELETE", r"^/server/[^/]+$") == 1
    assert emulator.requests[-1].query == "storages=1&backups=keep"
    with pytest.raises(ServerNotFound):
        upcloud.info(server.id)
    assert upcloud.call("list_servers") == []


def test_maintenance_shows_what_this_process_asked_for(upcloud, emulator):
    server = upcloud.create()
    emulator.maintenance_seconds = 60  # long enough to look at; settled by hand below
    assert upcloud.info(server.id).status == "creating"
    emulator.set_state(server.id, "started")
    for hook, status, settled in (
        ("stop_server", "stopping", "stopped"),
        ("start_server", "starting", "started"),
        ("reboot_server", "rebooting", "started"),
    ):
        upcloud.call(hook, server_id=server.id)
        assert upcloud.info(server.id).status == status
        emulator.set_state(server.id, settled)
    assert upcloud.info(server.id).status == "running"


def test_unknown_servers_are_not_found(upcloud):
    for hook in ("get_server_info", "delete_server", "start_server", "get_ssh_access"):
        with pytest.raises(
            ServerNotFound,
            match="'00000000-dead-beef-0000-000000000000' not found on provider 'upcloud'",
        ):
            upcloud.call(hook, server_id="00000000-dead-beef-0000-000000000000")


def test_start_and_stop_leave_a_server_already_there_alone(upcloud, emulator):
    server = upcloud.create()
    upcloud.wait(server.id, "running")
    writes = emulator.writes
    upcloud.call("start_server", server_id=server.id)
    assert emulator.writes == writes
    upcloud.call("stop_server", server_id=server.id)
    upcloud.wait(server.id, "stopped")
    writes = emulator.writes
    upcloud.call("stop_server", server_id=server.id)
    assert emulator.writes == writes
    upcloud.call("reboot_server", server_id=server.id)  # a stopped server reboots by starting
    assert emulator.count("POST", r"/start$") == 1
    upcloud.wait(server.id, "running")


def test_a_long_maintenance_is_a_transient_error(upcloud, emulator, settings):
    server = upcloud.create()
    emulator.set_state(server.id, "maintenance", seconds=60, then="started")
    impatient = settings_with(settings, options={"poll_interval": 0.02, "maintenance_timeout": 0.2})
    with pytest.raises(TransientError) as caught:
        upcloud.call("stop_server", settings=impatient, server_id=server.id)
    assert (
        f"cannot stop server web-1 ({server.id}) yet: it is still maintenance after 0.2 s"
        in str(caught.value)
    )
    assert emulator.count("POST", r"/stop$") == 0


def test_states_map_onto_server_statuses(upcloud, emulator):
    server = upcloud.create()
    upcloud.wait(server.id, "running")
    emulator.set_state(server.id, "error")
    assert upcloud.info(server.id).status == "error"
    records.forget(server.id)  # what another process sees: only "maintenance"
    emulator.set_state(server.id, "maintenance", seconds=60, then="stopped")
    assert upcloud.info(server.id).status == "starting"
    emulator.set_state(server.id, "stopped")
    assert upcloud.info(server.id).status == "stopped"


# -- access ------------------------------------------------------------------------------


def test_ssh_access_is_the_public_ipv4_and_the_login_user(upcloud, settings, emulator):
    server = upcloud.create()
    access = upcloud.call("get_ssh_access", server_id=server.id)
    public = [
        a["address"]
        for a in emulator.server(server.id)["ip_addresses"]["ip_address"]
        if a["access"] == "public"
    ]
    assert (access.host, access.port, access.user) == (public[0], 22, "root")
    deploy = settings_with(settings, defaults=settings.defaults.__class__(ssh_user="deploy"))
    assert upcloud.call("get_ssh_access", settings=deploy, server_id=server.id).user == "deploy"


def test_configure_firewall_replaces_the_rules_and_turns_the_firewall_on(upcloud, emulator):
    server = upcloud.create()
    upcloud.call(
        "configure_firewall",
        server_id=server.id,
        rules=[FirewallRule("in", "tcp", "accept", port=80)],
    )
    assert emulator.server(server.id)["firewall"] == "on"
    rules = [
        FirewallRule("in", "tcp", "accept", port=22, source="192.0.2.7"),
        FirewallRule("in", "udp", "accept", port=53, source="2001:db8::/64"),
        FirewallRule("out", "icmp", "reject", destination="10.1.0.0/16"),
        FirewallRule("in", "any", "drop"),
    ]
    upcloud.call("configure_firewall", server_id=server.id, rules=rules)
    got = emulator_rules(emulator, server.id)
    assert [(r["position"], r["direction"], r["protocol"], r["action"]) for r in got] == [
        ("1", "in", "tcp", "accept"),
        ("2", "in", "udp", "accept"),
        ("3", "out", "icmp", "reject"),
        ("4", "in", "", "drop"),
    ]
    assert (got[0]["source_address_start"], got[0]["source_address_end"]) == (
        "192.0.2.7",
        "192.0.2.7",
    )
    assert (got[1]["family"], got[1]["source_address_start"]) == ("IPv6", "2001:db8::")
    assert got[2]["destination_address_end"] == "10.1.255.255"
    assert got[3]["family"] == ""  # a catch-all covers both families
    # the same rules again: nothing to send
    writes = emulator.writes
    upcloud.call("configure_firewall", server_id=server.id, rules=rules)
    assert emulator.writes == writes


def test_a_bad_firewall_rule_is_refused_before_any_write(upcloud, emulator):
    server = upcloud.create()
    writes = emulator.writes
    with pytest.raises(
        ConfigError,
        match=r"'300.1.1.1' is not an IP address or CIDR network @ \$.rules\[1\].source",
    ):
        upcloud.call(
            "configure_firewall",
            server_id=server.id,
            rules=[
                FirewallRule("in", "tcp", "accept", port=22),
                FirewallRule("in", "tcp", "accept", source="300.1.1.1"),
            ],
        )
    assert emulator.writes == writes


def test_a_port_range_is_one_upcloud_rule(upcloud, emulator):
    server = upcloud.create()
    rules = [FirewallRule("ingress", "tcp", "allow", 8000, port_end=8100)]  # the seed's words
    upcloud.call("configure_firewall", server_id=server.id, rules=rules)
    (got,) = emulator_rules(emulator, server.id)
    assert (got["direction"], got["action"]) == ("in", "accept")
    assert (got["destination_port_start"], got["destination_port_end"]) == ("8000", "8100")
