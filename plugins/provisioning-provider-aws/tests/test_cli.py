"""`prov server ...` with the aws provider, end to end through the real CLI and moto,
and the secret key never anywhere: output (-vv, --debug, errors), logs, PROV_HOME."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from aws_support import KEY, document, moto_ec2, prov

from provisioning_provider_aws.lab import SECRET_KEY


def _results(output: str) -> list[dict]:
    return document(output)["results"]


def test_lifecycle_create_list_firewall_stop_start_delete(workspace, lab):
    code, output = prov(
        "server", "create", "web-1", "-p", "aws", "--ssh-key", KEY, "--tag", "env=ci",
        "--rule", "in,tcp,22,accept,10.0.0.0/8", "--wait", "-o", "json",
    )  # fmt: skip
    assert code == 0, output
    (created,) = _results(output)
    assert (created["outcome"], created["status"]) == ("done", "running")
    server_id = created["data"]["id"]
    code, output = prov("server", "list", "-p", "aws", "-o", "json")
    assert code == 0, output
    (row,) = document(output)["servers"]
    assert (row["id"], row["hostname"], row["status"], row["zone"], row["where"]) == (
        server_id, "web-1", "running", "us-east-1a", "both"
    )  # fmt: skip
    code, output = prov("server", "firewall", "web-1", "--rule", "in,tcp,443,accept", "-o", "json")
    assert code == 0, output
    (group,) = moto_ec2(lab).describe_security_groups(
        Filters=[{"Name": "tag:prov:server", "Values": [server_id]}]
    )["SecurityGroups"]
    assert [(p["FromPort"], p["IpRanges"]) for p in group["IpPermissions"]] == [
        (443, [{"CidrIp": "0.0.0.0/0"}])
    ]
    for action, status in (("stop", "stopped"), ("start", "running"), ("reboot", "running")):
        code, output = prov("server", action, "web-1", "--wait", "-o", "json")
        assert code == 0, output
        assert _results(output)[0]["status"] == status
    code, output = prov("server", "delete", "web-1", "--wait", "-o", "json")
    assert code == 0, output
    assert _results(output)[0]["status"] == "deleted"
    (reservation,) = moto_ec2(lab).describe_instances(InstanceIds=[server_id])["Reservations"]
    assert reservation["Instances"][0]["State"]["Name"] == "terminated"


def test_create_in_check_mode_sends_no_write(workspace, lab):
    code, output = prov("server", "create", "web-1", "-p", "aws", "--check", "-o", "json")
    assert code == 0, output
    assert lab.writes == 0
    assert moto_ec2(lab).describe_instances()["Reservations"] == []


def test_catalogue_commands(workspace, lab):
    code, output = prov("server", "plans", "-p", "aws", "-o", "json")
    assert code == 0, output
    plans = {p["name"]: p for p in document(output)["plans"]}
    assert plans["m5.large"]["cores"] == 2
    code, output = prov("server", "zones", "-p", "aws", "-o", "json")
    assert code == 0, output
    assert "us-east-1b" in [z["name"] for z in document(output)["zones"]]
    code, output = prov("server", "pricing", "-p", "aws", "-o", "json")
    assert code == 0, output
    prices = {p["plan"]: p for p in document(output)["pricing"]}
    assert (prices["t3.micro"]["hourly"], prices["t3.micro"]["currency"]) == (0.0104, "USD")


def test_a_bad_plan_from_the_cli_is_exit_2_and_nothing_is_made(workspace, lab):
    code, output = prov("server", "create", "web-1", "-p", "aws", "--plan", "t9.enormous")
    assert code == 2, output
    assert "unknown plan 't9.enormous'" in output
    assert moto_ec2(lab).describe_instances()["Reservations"] == []


@pytest.mark.parametrize("debug", [(), ("-vv",), ("--debug",)], ids=["plain", "-vv", "--debug"])
def test_the_secret_key_is_never_shown(workspace, lab, prov_home, caplog, debug):
    caplog.set_level(logging.DEBUG)
    outputs = []
    for args in (
        ("server", "create", "web-1", "-p", "aws", "--wait", "-o", "json"),
        ("server", "list", "-p", "aws", "-o", "json"),
        ("server", "pricing", "-p", "aws", "-o", "json"),
        ("config", "show", "-o", "json"),
    ):
        code, output = prov(*debug, *args)
        assert code == 0, output
        outputs.append(output)
    lab.authenticate()  # now the lab's keys are refused: an error path, with --debug too
    code, output = prov(*debug, "server", "list", "-p", "aws", "-o", "json")
    assert code == 2, output
    outputs.append(output)
    assert not [o for o in outputs if SECRET_KEY in o]
    assert SECRET_KEY not in caplog.text
    for path in Path(prov_home).rglob("*"):
        if path.is_file():
            assert SECRET_KEY.encode() not in path.read_bytes(), path
