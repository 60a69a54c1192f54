"""Every hook of the aws provider against moto's server, read back with boto3 straight
from moto: what was created, tagged, imported, allowed and removed."""

from __future__ import annotations

import base64
import json

import attrs
import pytest
from aws_support import KEY, OTHER_KEY, moto_ec2
from provisioning_core import ConfigError, FirewallRule, ProvisioningError, ServerNotFound

from provisioning_provider_aws import plugin
from provisioning_provider_aws.images import IMAGES
from provisioning_provider_aws.lab import CATALOGUE

AL2023 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"


def _instance(lab, server_id):
    (reservation,) = moto_ec2(lab).describe_instances(InstanceIds=[server_id])["Reservations"]
    return reservation["Instances"][0]


def _al2023(lab) -> str:
    import boto3

    ssm = boto3.client(
        "ssm", region_name="us-east-1", endpoint_url=lab.moto_url,
        aws_access_key_id="x", aws_secret_access_key="y",
    )  # fmt: skip
    return str(ssm.get_parameter(Name=AL2023)["Parameter"]["Value"])


def test_create_tags_the_instance_imports_the_key_once_and_adds_the_others(aws, lab):
    server = aws.create("web-1", ssh_keys=[KEY, OTHER_KEY], tags={"env": "prod"})
    assert (server.hostname, server.status, server.plan, server.zone) == (
        "web-1", "creating", "t3.micro", "us-east-1a"
    )  # fmt: skip
    instance = _instance(lab, server.id)
    tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
    assert tags == {
        "Name": "web-1", "env": "prod",
        "prov:managed-by": "provisioning", "prov:ssh-user": "ec2-user",
    }  # fmt: skip
    assert instance["ImageId"] == _al2023(lab)  # resolved from the SSM public parameter
    assert instance["Placement"]["AvailabilityZone"] == "us-east-1a"
    ec2 = moto_ec2(lab)
    (pair,) = ec2.describe_key_pairs()["KeyPairs"]
    assert instance["KeyName"] == pair["KeyName"]
    assert pair["KeyName"].startswith("prov-")
    user_data = ec2.describe_instance_attribute(InstanceId=server.id, Attribute="userData")
    text = base64.b64decode(user_data["UserData"]["Value"]).decode()
    assert text.startswith("#cloud-config\n")
    assert OTHER_KEY in text
    assert KEY not in text  # the first key is the key pair
    # the same key again: the pair is reused, not imported twice
    again = aws.create("web-2", ssh_keys=[KEY])
    assert _instance(lab, again.id)["KeyName"] == pair["KeyName"]
    assert len(ec2.describe_key_pairs()["KeyPairs"]) == 1
    assert server.tags == {"env": "prod"}  # prov's own tags are not the user's


def test_check_mode_sends_no_write_and_creates_nothing(aws, lab):
    planned = aws.create(
        "web-1",
        check=True,
        ssh_keys=[KEY],
        firewall_rules=[FirewallRule("in", "tcp", "accept", 22)],
    )
    assert (planned.id, planned.hostname, planned.status) == ("", "web-1", "creating")
    assert lab.writes == 0
    ec2 = moto_ec2(lab)
    assert ec2.describe_instances()["Reservations"] == []
    assert ec2.describe_key_pairs()["KeyPairs"] == []
    assert [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]] == ["default"]


def test_images_from_the_table_options_or_an_ami_id(aws, lab, settings):
    own = moto_ec2(lab).describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    mapped = attrs.evolve(settings, options={**settings.options, "images": {"web": own}})
    aws.settings = mapped
    assert _instance(lab, aws.create("a", os="web").id)["ImageId"] == own
    assert _instance(lab, aws.create("b", os=own).id)["ImageId"] == own
    with pytest.raises(ConfigError) as caught:
        aws.create("c", os="windows-98")
    assert caught.value.problems == [
        f"unknown os 'windows-98'; allowed: {', '.join(sorted(IMAGES))}, or an AMI id (ami-...) @ --os"
    ]
    # moto publishes no Canonical parameters: named, with the way out
    with pytest.raises(ConfigError) as caught:
        aws.create("d", os="ubuntu-24.04")
    assert caught.value.problems == [
        f"no SSM parameter {IMAGES['ubuntu-24.04'].parameter} in us-east-1 @ --os"
    ]
    assert "options.images" in caught.value.hint
    assert len(moto_ec2(lab).describe_instances()["Reservations"]) == 2


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        (
            {"zone": "mars-1"},
            "unknown zone 'mars-1': give a region (eu-west-1) or an availability zone (eu-west-1a) @ --zone",
        ),
        ({"zone": "us-east-1z"}, "unknown zone 'us-east-1z'; allowed: "),
        ({"plan": "t9.enormous"}, "unknown plan 't9.enormous' @ --plan"),
    ],
)
def test_a_bad_zone_or_plan_is_refused_before_anything_is_made(aws, lab, kwargs, problem):
    with pytest.raises(ConfigError) as caught:
        aws.create("web-1", **kwargs)
    assert caught.value.exit_code == 2
    assert caught.value.problems[0].startswith(problem)
    assert lab.writes == 0


def test_a_zone_outside_the_providers_regions_is_refused(aws, lab):
    with pytest.raises(ConfigError) as caught:
        aws.create("web-1", zone="eu-west-1a")  # prov would never find the server again
    assert caught.value.problems == [
        "region eu-west-1 is neither the provider's region (us-east-1) nor one of options.regions @ --zone"
    ]
    assert 'options.regions = ["eu-west-1"]' in caught.value.hint
    assert lab.writes == 0


def test_two_creates_importing_the_same_key_at_once_both_succeed(aws, lab):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        servers = list(pool.map(lambda n: aws.create(f"web-{n}", ssh_keys=[KEY]), range(4)))
    assert len({s.id for s in servers}) == 4
    assert len(moto_ec2(lab).describe_key_pairs()["KeyPairs"]) == 1


def test_a_sized_root_volume_uses_the_images_root_device(aws, lab, settings):
    aws.settings = attrs.evolve(settings, options={**settings.options, "volume_size": 20})
    server = aws.create("web-1")
    ec2 = moto_ec2(lab)
    instance = _instance(lab, server.id)
    (image,) = ec2.describe_images(ImageIds=[instance["ImageId"]])["Images"]
    devices = [m["DeviceName"] for m in instance["BlockDeviceMappings"]]
    assert image["RootDeviceName"] in devices


def test_the_seeds_storage_sets_the_root_volume(aws, lab):
    from provisioning_core import ServerStorage

    server = aws.create("web-1", storage=ServerStorage(size=30, type="gp2"))
    ec2 = moto_ec2(lab)
    instance = _instance(lab, server.id)
    (image,) = ec2.describe_images(ImageIds=[instance["ImageId"]])["Images"]
    (mapping,) = [
        m for m in instance["BlockDeviceMappings"] if m["DeviceName"] == image["RootDeviceName"]
    ]
    (volume,) = ec2.describe_volumes(VolumeIds=[mapping["Ebs"]["VolumeId"]])["Volumes"]
    assert (volume["Size"], volume["VolumeType"], volume["Encrypted"]) == (30, "gp2", True)


def test_the_seeds_network_without_a_public_ip(aws, lab):
    from provisioning_core import ServerNetwork

    server = aws.create(
        "web-1",
        network=ServerNetwork(public_ip=False),
        firewall_rules=[FirewallRule("in", "tcp", "accept", port=22)],
    )
    instance = _instance(lab, server.id)
    assert not instance.get("PublicIpAddress")
    (interface,) = instance["NetworkInterfaces"]
    assert not interface.get("Association")  # no public address on its one interface
    groups = [g["GroupName"] for g in interface["Groups"]]
    assert any(name.startswith("prov-web-1-") for name in groups)  # its own group, there
    with pytest.raises(ConfigError, match="no bandwidth cap"):
        aws.create("web-2", network=ServerNetwork(bandwidth=10))


def test_a_region_as_zone_lets_aws_choose_the_availability_zone(aws, lab):
    server = aws.create("web-1", zone="us-east-1")
    assert _instance(lab, server.id)["Placement"]["AvailabilityZone"].startswith("us-east-1")


def _group(lab, server_id):
    groups = moto_ec2(lab).describe_security_groups(
        Filters=[{"Name": "tag:prov:server", "Values": [server_id]}]
    )["SecurityGroups"]
    assert len(groups) == 1
    group = groups[0]
    ingress = sorted(
        (p["IpProtocol"], p.get("FromPort"), p.get("ToPort"), r["CidrIp"])
        for p in group["IpPermissions"]
        for r in p["IpRanges"]
    )
    egress = sorted(
        (p["IpProtocol"], p.get("FromPort"), p.get("ToPort"), r["CidrIp"])
        for p in group["IpPermissionsEgress"]
        for r in p["IpRanges"]
    )
    return group, ingress, egress


def test_firewall_rules_are_one_group_per_server_replaced_exactly(aws, lab):
    server = aws.create("web-1", firewall_rules=[FirewallRule("in", "tcp", "accept", 22)])
    group, ingress, egress = _group(lab, server.id)
    assert group["GroupName"].startswith("prov-web-1-")
    assert ingress == [("tcp", 22, 22, "0.0.0.0/0")]
    assert egress == [("-1", None, None, "0.0.0.0/0")]  # no out rules: everything, as AWS does
    # its own group only: the VPC's default group would let everything out and its members in
    assert [g["GroupId"] for g in _instance(lab, server.id)["SecurityGroups"]] == [group["GroupId"]]
    rules = [
        FirewallRule("in", "tcp", "accept", 443, source="10.0.0.0/8"),
        FirewallRule("in", "udp", "accept", 53, source="192.168.1.7"),
        FirewallRule("in", "icmp", "accept"),
        FirewallRule("ingress", "tcp", "allow", 8000, port_end=8100),  # the seed's words
        FirewallRule("out", "tcp", "accept", 443),
    ]
    aws.call("configure_firewall", server_id=server.id, rules=rules)
    _, ingress, egress = _group(lab, server.id)
    assert ingress == [
        ("icmp", -1, -1, "0.0.0.0/0"),
        ("tcp", 443, 443, "10.0.0.0/8"),
        ("tcp", 8000, 8100, "0.0.0.0/0"),
        ("udp", 53, 53, "192.168.1.7/32"),
    ]  # port 22 was revoked
    assert egress == [("tcp", 443, 443, "0.0.0.0/0")]
    writes = lab.writes
    aws.call("configure_firewall", server_id=server.id, rules=rules)
    assert lab.writes == writes  # the same rules again: nothing to change
    aws.call("configure_firewall", server_id=server.id, rules=[])
    _, ingress, egress = _group(lab, server.id)
    assert (ingress, egress) == ([], [("-1", None, None, "0.0.0.0/0")])


def test_an_instance_in_the_default_group_gets_exactly_its_own_when_given_rules(aws, lab):
    # in the VPC's default group, as AWS launches an instance given none (moto gives none)
    ec2 = moto_ec2(lab)
    (default,) = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"]
    launched = ec2.run_instances(
        ImageId=_al2023(lab), InstanceType="t3.micro", MinCount=1, MaxCount=1,
        SecurityGroupIds=[default["GroupId"]],
    )  # fmt: skip
    server_id = launched["Instances"][0]["InstanceId"]
    rules = [FirewallRule("in", "tcp", "accept", 22)]
    aws.call("configure_firewall", server_id=server_id, rules=rules)
    group, ingress, _ = _group(lab, server_id)
    assert [g["GroupId"] for g in _instance(lab, server_id)["SecurityGroups"]] == [group["GroupId"]]
    assert ingress == [("tcp", 22, 22, "0.0.0.0/0")]


def test_rules_security_groups_cannot_express_are_refused_before_any_change(aws, lab):
    server = aws.create("web-1", firewall_rules=[FirewallRule("in", "tcp", "accept", 22)])
    writes = lab.writes
    with pytest.raises(ConfigError) as caught:
        aws.call(
            "configure_firewall",
            server_id=server.id,
            rules=[
                FirewallRule("in", "tcp", "accept", 80),
                FirewallRule("in", "tcp", "drop"),
                FirewallRule("out", "tcp", "accept", 443, source="10.0.0.0/8"),
                FirewallRule("in", "tcp", "accept", 80, destination="10.0.0.5"),
            ],
        )
    assert caught.value.problems == [
        "AWS security groups only allow traffic; 'drop' cannot be expressed @ $.rules[1].action",
        "an outgoing rule's source is the server itself; a security group cannot narrow it @ $.rules[2].source",
        "an incoming rule's destination is the server itself; a security group cannot narrow it @ $.rules[3].destination",
    ]
    assert lab.writes == writes
    assert _group(lab, server.id)[1] == [("tcp", 22, 22, "0.0.0.0/0")]


def test_power_actions_and_statuses(aws, lab):
    server = aws.create("web-1")
    assert aws.wait(server.id, "running").ip_addresses
    aws.call("stop_server", server_id=server.id)
    aws.wait(server.id, "stopped")
    aws.call("stop_server", server_id=server.id)  # already stopped: nothing to do
    aws.call("reboot_server", server_id=server.id)  # a stopped server reboots by starting
    aws.wait(server.id, "running")
    aws.call("reboot_server", server_id=server.id)
    aws.call("start_server", server_id=server.id)
    assert aws.info(server.id).status == "running"


@pytest.mark.parametrize(
    ("state", "status"),
    [("pending", "creating"), ("running", "running"), ("stopping", "stopping"),
     ("stopped", "stopped"), ("shutting-down", "deleting"), ("melting", "error")],
)  # fmt: skip
def test_states_map_onto_the_cores_statuses(state, status):
    record = plugin._server({"InstanceId": "i-1", "State": {"Name": state}, "Tags": []})
    assert (record.status, record.hostname) == (status, "i-1")


def test_delete_terminates_then_the_server_is_gone_and_its_group_swept(aws, lab):
    server = aws.create("web-1", firewall_rules=[FirewallRule("in", "tcp", "accept", 22)])
    aws.call("delete_server", server_id=server.id)
    assert _instance(lab, server.id)["State"]["Name"] == "terminated"
    with pytest.raises(ServerNotFound):
        aws.info(server.id)
    assert aws.call("list_servers") == []
    names = [g["GroupName"] for g in moto_ec2(lab).describe_security_groups()["SecurityGroups"]]
    assert names == ["default"]
    with pytest.raises(ServerNotFound):
        aws.call("delete_server", server_id=server.id)


def test_list_pages_through_more_than_a_thousand_instances(aws, lab):
    ec2 = moto_ec2(lab)
    image = _al2023(lab)
    # moto counts a page in reservations (AWS in instances): one reservation per instance
    for _ in range(1050):
        ec2.run_instances(ImageId=image, InstanceType="t3.micro", MinCount=1, MaxCount=1)
    requests = lab.requests
    servers = aws.call("list_servers")
    assert len(servers) == 1050
    assert len({s.id for s in servers}) == 1050
    assert lab.requests - requests >= 2  # more than one page of describe_instances


def test_plans_zones_and_ssh_access(aws, lab, settings):
    plans = {p.name: p for p in aws.call("get_plans")}
    assert (plans["t3.micro"].cores, plans["t3.micro"].memory_mb) == (2, 1024)
    assert len(plans) > 100
    zones = {z.name: z.description for z in aws.call("get_zones")}
    assert zones["eu-west-1"] == "region: any of its availability zones"
    assert zones["us-east-1a"] == "availability zone of us-east-1"
    assert "eu-west-1a" not in zones  # only the AZs of the regions in use
    server = aws.create("web-1")
    access = aws.call("get_ssh_access", server_id=server.id)
    instance = _instance(lab, server.id)
    assert (access.host, access.port, access.user, access.key_path) == (
        instance["PublicIpAddress"], 22, "ec2-user", None
    )  # fmt: skip
    aws.settings = attrs.evolve(
        settings,
        defaults=attrs.evolve(settings.defaults, ssh_user="deploy"),
        options={**settings.options, "use_private_ip": True, "key_path": "~/.ssh/aws"},
    )
    access = aws.call("get_ssh_access", server_id=server.id)
    assert (access.host, access.user, access.key_path) == (
        instance["PrivateIpAddress"], "deploy", "~/.ssh/aws"
    )  # fmt: skip


def test_prices_come_from_the_price_list_api_once_then_from_the_cache(
    aws, lab, settings, prov_home
):
    prices = {p.plan: p for p in aws.call("get_pricing")}
    assert {plan: p.hourly for plan, p in prices.items()} == CATALOGUE  # Linux only
    assert {(p.zone, p.currency) for p in prices.values()} == {("us-east-1", "USD")}
    fetched = lab.pricing_requests
    assert fetched == 2  # 6 products, pages of 5
    assert aws.call("get_pricing") == list(prices.values())
    assert lab.pricing_requests == fetched  # from $PROV_HOME/aws/prices-us-east-1.json
    cache = prov_home / "aws" / "prices-us-east-1.json"
    assert json.loads(cache.read_text())["prices"][0] == ["c5.large", 0.085]
    cache.write_text("{not json")
    assert aws.call("get_pricing") == list(prices.values())
    assert lab.pricing_requests == fetched + 2  # an unreadable cache is fetched again
    aws.settings = attrs.evolve(settings, options={**settings.options, "pricing_ttl": 1e-9})
    aws.call("get_pricing")
    assert lab.pricing_requests == fetched + 4  # past its TTL


def test_regions_option_lists_servers_of_every_region(aws, lab, settings):
    aws.create("east")
    aws.settings = attrs.evolve(settings, options={**settings.options, "regions": ["eu-west-1"]})
    aws.create("west", zone="eu-west-1b")
    assert sorted((s.hostname, s.zone) for s in aws.call("list_servers")) == [
        ("east", "us-east-1a"), ("west", "eu-west-1b")
    ]  # fmt: skip
    west = next(s for s in aws.call("list_servers") if s.hostname == "west")
    assert aws.info(west.id).zone == "eu-west-1b"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"auth": {"method": "oauth"}},
            "auth.method 'oauth' is not one this provider supports: api_key, profile @ $.providers.aws.auth.method",
        ),
        (
            {"auth": {"method": "api_key", "api_key": "AKIA1"}},
            'api_key method without a secret access key: set api_secret = "${AWS_SECRET_ACCESS_KEY}" @ $.providers.aws.auth.api_secret',
        ),
        (
            {"defaults": {"zone": "moon-base"}},
            "zone 'moon-base' is neither a region (eu-west-1) nor an availability zone (eu-west-1a) @ $.providers.aws.defaults.zone",
        ),
        (
            {"options": {"regions": "eu-west-1"}},
            "regions must be a list of regions such as ['eu-west-1'], not 'eu-west-1' @ $.providers.aws.options.regions",
        ),
        (
            {"api": {"base_url": "ftp://x"}},
            "base_url 'ftp://x' is not an http(s) URL such as http://127.0.0.1:5000 (one endpoint for every service) @ $.providers.aws.api.base_url",
        ),
    ],
)
def test_validate_config_names_each_problem(aws, change, expected):
    from provisioning_core import ProviderSettings, structure

    report = aws.call(
        "validate_config", settings=structure({"name": "aws", **change}, ProviderSettings)
    )
    assert not report.valid
    assert report.errors == [expected]


def test_validate_config_warns_on_what_it_ignores(aws):
    from provisioning_core import ProviderSettings, structure

    settings = structure(
        {
            "name": "aws",
            "auth": {"method": "profile", "api_key": "AKIA1"},
            "options": {"colour": "red"},
        },
        ProviderSettings,
    )
    report = aws.call("validate_config", settings=settings)
    assert report.valid
    assert (
        report.warnings[0]
        == "auth.method is profile: api_key and api_secret are ignored @ $.providers.aws.auth"
    )
    assert report.warnings[1].startswith("unknown option 'colour' ignored; known: ")


def test_an_unknown_instance_is_not_found_and_other_errors_name_aws_code(aws, lab, settings):
    with pytest.raises(ServerNotFound):
        aws.info("i-0123456789abcdef0")
    server = aws.create("web-1")
    aws.settings = attrs.evolve(settings, options={**settings.options, "subnet_id": "subnet-0bad"})
    with pytest.raises(ProvisioningError) as caught:
        aws.create("web-2")
    assert "AWS ec2 run_instances: InvalidSubnetID.NotFound" in str(caught.value)
    assert "hint: check providers.aws.options.subnet_id" in str(caught.value)
    assert [s.hostname for s in aws.call("list_servers")] == ["web-1"]
    assert aws.info(server.id).hostname == "web-1"
