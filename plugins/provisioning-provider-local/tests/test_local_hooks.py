"""The provider's hooks as the core calls them: catalogue, settings, create, check mode."""

from __future__ import annotations

import json

import pytest
from local_support import prov
from provisioning_core import ConfigError, ProviderSettings, ServerConfig, ServerNotFound

from provisioning_provider_local import __version__


def tree(path):
    """Every file under ``path`` with its content, to compare before and after."""
    if not path.exists():
        return {}
    return {
        str(p.relative_to(path)): p.read_bytes() if p.is_file() else None
        for p in sorted(path.rglob("*"))
    }


def test_catalogue(local):
    info = local.call("provider_info")
    assert (info.name, info.version, info.regions) == ("local", __version__, ["local"])
    plans = local.call("get_plans")
    assert [p.name for p in plans] == ["small", "medium", "large"]
    assert all(p.cores and p.memory_mb and p.storage_gb for p in plans)
    assert [(z.name, z.description) for z in local.call("get_zones")] == [("local", "this machine")]
    prices = local.call("get_pricing")
    assert [(p.plan, p.hourly, p.currency) for p in prices] == [
        ("small", 0.0, "EUR"),
        ("medium", 0.0, "EUR"),
        ("large", 0.0, "EUR"),
    ]


def settings(**options):
    return ProviderSettings(name="local", options=options)


def test_validate_config(local):
    good = local.call("validate_config", settings=settings(ssh_port=2222, start_timeout=20))
    assert good.valid
    assert good.checks == {"platform": "passed", "options": "passed"}
    bad = local.call(
        "validate_config", settings=settings(ssh_port="22x", start_timeout=0, colour=1)
    )
    assert not bad.valid
    assert bad.errors == [
        "ssh_port must be a port number 1-65535, not '22x' @ $.providers.local.options.ssh_port",
        "start_timeout must be a number of seconds above 0, not 0 @ $.providers.local.options.start_timeout",
    ]
    assert bad.warnings == [
        "unknown option 'colour' ignored; known: ssh_port, start_timeout @ $.providers.local.options.colour"
    ]


def test_test_connection_binds_a_loopback_address_and_writes_the_state_dir(local, prov_home):
    result = local.call("test_connection")
    assert result.ok, result.message
    assert result.details["state_dir"] == str(prov_home / "local")
    assert result.details["address"].startswith("127.0.0.")


def test_test_connection_reports_an_unwritable_state_dir(local, prov_home):
    prov_home.mkdir(parents=True, exist_ok=True)
    (prov_home / "local").write_text("a file where the directory should be")
    result = local.call("test_connection")
    assert not result.ok
    assert "cannot write the state directory" in result.message


def test_unknown_or_malformed_ids_are_not_found(local):
    for server_id in ("local-00000000", "../../etc", "", "web-1"):
        with pytest.raises(ServerNotFound):
            local.info(server_id)
        with pytest.raises(ServerNotFound):
            local.call("stop_server", server_id=server_id)


def test_servers_get_distinct_addresses_and_are_listed(local):
    one, two = local.create("one", tags={"role": "web"}), local.create("two", plan="large")
    assert one.ip_addresses != two.ip_addresses
    assert all(s.ip_addresses[0].startswith("127.0.0.") for s in (one, two))
    listed = {s.hostname: s for s in local.call("list_servers")}
    assert set(listed) == {"one", "two"}
    assert listed["one"].tags == {"role": "web"}
    assert (listed["two"].plan, listed["two"].zone, listed["two"].status.value) == (
        "large",
        "local",
        "running",
    )
    assert local.info(one.id) == listed["one"]


def config(hostname="web-1", **kwargs):
    return ServerConfig(
        hostname=hostname,
        plan=kwargs.pop("plan", "small"),
        zone=kwargs.pop("zone", "local"),
        **kwargs,
    )


@pytest.mark.parametrize("check", [True, False])
def test_create_refuses_bad_plans_zones_keys_and_taken_hostnames(local, check):
    local.create("taken")
    with pytest.raises(ConfigError) as caught:
        local.call(
            "create_server",
            config=config("taken", plan="huge", zone="mars", ssh_keys=["ssh-ed25519 not-base64"]),
            check=check,
        )
    problems = caught.value.problems
    assert problems[0] == "unknown plan 'huge'; choose one of small, medium, large @ $.plan"
    assert problems[1] == "unknown zone 'mars'; the only zone is 'local' @ $.zone"
    assert problems[2].startswith("not an OpenSSH public key")
    assert problems[2].endswith("@ $.ssh_keys[0]")
    assert problems[3].startswith("taken already exists (id local-")
    assert len(local.call("list_servers")) == 1


def test_check_mode_describes_and_touches_nothing(local, prov_home):
    planned = local.call("create_server", config=config("web-1"), check=True)
    assert (planned.id, planned.hostname, planned.status.value) == ("", "web-1", "creating")
    claims = claims_listing()
    assert not (prov_home / "local").exists()  # not even the client key
    # the plan names the address the create then gets, and claims none
    created = local.create("web-1")
    assert created.ip_addresses == planned.ip_addresses
    before = tree(prov_home / "local")
    claims = claims_listing()
    planned = local.call("create_server", config=config("web-2"), check=True)
    assert planned.ip_addresses != created.ip_addresses
    assert tree(prov_home / "local") == before
    assert claims_listing() == claims


def test_check_mode_through_the_cli(prov_home):
    code, output = prov("server", "create", "web-1", "--provider", "local", "--check", "-o", "json")
    assert code == 0, output
    (result,) = json.loads(output)["results"]
    assert result["outcome"] == "planned"
    assert result["data"]["planned"]["ip_addresses"][0].startswith("127.0.0.")
    assert not (prov_home / "local").exists()


def test_settings_come_from_the_configuration(prov_home):
    (prov_home.parent / "work" / "provisioning.toml").write_text(
        '[providers.local.options]\nssh_port = "x"\n', encoding="utf-8"
    )
    code, output = prov("server", "list", "--provider", "local")
    assert code == 2
    assert "ssh_port must be a port number 1-65535, not 'x'" in output


def test_create_refuses_a_dsa_key_naming_what_to_use(local):
    dsa = "ssh-dss AAAAB3NzaC1kc3MAAACBAP1/U4EddRIpUt9KnC7s5Of2EbdSPO9EAMMeP4C2USZp user@old"
    with pytest.raises(ConfigError) as caught:
        local.call("create_server", config=config("web-1", ssh_keys=[dsa]), check=False)
    assert caught.value.problems == [
        (
            "a DSA key (ssh-dss), which the sandboxes' SSH server does not accept: "
            "use an ed25519 key (ssh-keygen -t ed25519) @ $.ssh_keys[0]"
        )
    ]
    assert local.call("list_servers") == []


def claims_listing() -> list[str]:
    from provisioning_provider_local.addresses import claims_dir

    return sorted(p.name for p in claims_dir().iterdir())
