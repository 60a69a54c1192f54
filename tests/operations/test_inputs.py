"""Parsing what users type: every problem is an InputError naming the field."""

from __future__ import annotations

import pytest

from provisioning_core.errors import InputError
from provisioning_core.models import FirewallRule
from provisioning_core.operations.inputs import (
    MAX_COUNT,
    expand_hostnames,
    parse_rule,
    parse_tags,
    read_ssh_keys,
)
from provisioning_core.operations.requests import JOB_KINDS


def test_tags():
    assert parse_tags(["env=prod", "team=web=x", "empty="]) == {
        "env": "prod",
        "team": "web=x",
        "empty": "",
    }
    with pytest.raises(InputError) as info:
        parse_tags(["env=a", "env=b", "=x", "bare"])
    assert info.value.exit_code == 2
    assert info.value.problems == [
        "tag 'env' is given twice @ --tag",
        "tag key '' must start with a letter or digit and use letters, digits and _.:/- (at most 63 characters) @ --tag",
        "'bare' is not KEY=VALUE @ --tag",
    ]


def test_rules():
    assert parse_rule("in,tcp,22,accept,10.0.0.0/8") == FirewallRule(
        "in", "tcp", "accept", 22, "10.0.0.0/8"
    )
    assert parse_rule("OUT, udp, *, drop") == FirewallRule("out", "udp", "drop", None)
    # the seed's words, a port range and a destination
    assert parse_rule("ingress,tcp,8000-8100,allow,10.0.0.0/8,192.168.1.5") == FirewallRule(
        "in", "tcp", "accept", 8000, "10.0.0.0/8", "192.168.1.5", port_end=8100
    )
    assert parse_rule("egress,udp,53,deny") == FirewallRule("out", "udp", "drop", 53)
    for bad, problem in [
        ("in,tcp,22", "expected DIRECTION,PROTOCOL,PORT,ACTION[,SOURCE[,DESTINATION]] @ --rule"),
        ("in,tcp,ssh,accept", "port 'ssh' is not a number 1-65535, a range N-M or * @ --rule"),
        ("in,tcp,90-80,accept", "invalid port_end 80: expected 90-65535 (at least port) @ --rule"),
        ("in,tcp,1-x,accept", "port '1-x' is not a number 1-65535, a range N-M or * @ --rule"),
        ("in,icmp,1-2,accept", "a port makes no sense for protocol icmp; use * @ --rule"),
        (
            "in,tcp,22,accept,,nowhere",
            "destination 'nowhere' is not an IP address or network (10.0.0.0/8) @ --rule",
        ),
        (
            "in,gre,22,accept",
            "invalid protocol 'gre': expected one of tcp, udp, icmp, any @ --rule",
        ),
    ]:
        with pytest.raises(InputError) as info:
            parse_rule(bad)
        assert info.value.problems == [problem]


def test_hostnames():
    assert expand_hostnames("web", 1) == ["web"]
    assert expand_hostnames("web", 3) == ["web-1", "web-2", "web-3"]
    with pytest.raises(InputError, match="invalid hostname"):
        expand_hostnames("a" * 64, 1)


def test_a_huge_count_is_refused_before_any_name_is_made():
    assert len(expand_hostnames("web", MAX_COUNT)) == MAX_COUNT
    with pytest.raises(InputError) as info:
        expand_hostnames("web", 2**70)  # would build 2**70 names
    assert info.value.problems == [f"{2**70} is more than {MAX_COUNT} @ --count"]
    with pytest.raises(InputError) as info:
        expand_hostnames("web", MAX_COUNT + 1, field="$.count")
    assert info.value.problems == [f"{MAX_COUNT + 1} is more than {MAX_COUNT} @ $.count"]


def test_ssh_keys(tmp_path):
    public = tmp_path / "id.pub"
    public.write_text("ssh-ed25519 AAAAC3 me@host\n")
    private = tmp_path / "id"
    private.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n")
    assert read_ssh_keys([str(public), "ssh-rsa AAAAB3 x"]) == [
        "ssh-ed25519 AAAAC3 me@host",
        "ssh-rsa AAAAB3 x",
    ]
    with pytest.raises(InputError, match="refused a private SSH key") as info:
        read_ssh_keys([str(private)])
    assert "abc" not in str(info.value)
    with pytest.raises(InputError, match="cannot read SSH key"):
        read_ssh_keys([str(tmp_path / "missing.pub")])


def test_ssh_keys_that_are_no_public_key_are_refused_unread_when_they_cannot_be(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello world\n")
    big = tmp_path / "big.pub"
    big.write_text("ssh-ed25519 AAAAC3 me@host\n" * 3000)
    cases = [
        (str(text), "'" + str(text) + "' is not a public key (TYPE BASE64 [COMMENT]) @ --ssh-key"),
        ("ssh-rsa", "'ssh-rsa' is not a public key (TYPE BASE64 [COMMENT]) @ --ssh-key"),
        ("ssh-rsa AAAAB3 \x1b[2J", "'ssh-rsa AAAAB3 \\x1b[2J' is not a public key"),
        ("/dev/zero", "/dev/zero: not a regular file @ --ssh-key"),  # was read without end
        (str(big), f"{big}: larger than 64 KiB, so no public key file @ --ssh-key"),
    ]
    for value, problem in cases:
        with pytest.raises(InputError) as info:
            read_ssh_keys([value])
        assert info.value.problems[0].startswith(problem), (value, info.value.problems)
        assert info.value.exit_code == 2
    with pytest.raises(InputError) as info:
        read_ssh_keys([str(text)], field="$.providers.up.defaults.ssh_keys")
    assert info.value.problems[0].endswith("@ $.providers.up.defaults.ssh_keys")
    with pytest.raises(InputError) as info:
        JOB_KINDS["server.create"].prepare(
            {"hostname": "web", "provider": "local", "ssh_keys": ["ssh-rsa"]}
        )
    assert info.value.problems == [
        "the text is not a public key (TYPE BASE64 [COMMENT]) @ $.ssh_keys[0]"
    ]


def test_ssh_keys_refuse_dsa_given_inline_or_in_a_file(tmp_path):
    dsa = "ssh-dss AAAAB3NzaC1kc3MAAACBAP1/U4EddRIpUt9KnC7s5Of2EbdSPO9EAMMeP4C2 me@old"
    good = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@new"
    keys = tmp_path / "keys.pub"
    keys.write_text(f"{good}\n{dsa}\n")
    assert read_ssh_keys([good]) == [good]
    for value, shown in ((dsa, f"{dsa[:37]}..."), (str(keys), str(keys))):
        with pytest.raises(InputError) as info:
            read_ssh_keys([good, value])
        assert str(info.value).startswith("refused a DSA SSH key\n")
        assert info.value.problems == [f"{shown} is a DSA (ssh-dss) key @ --ssh-key"]
        assert "ssh-keygen -t ed25519" in info.value.hint
        assert info.value.exit_code == 2
