"""The hooks of the ``aws`` provider: EC2 instances through boto3.

Settings (``[providers.aws]``), in the seed's shape:

- ``auth.method = "api_key"`` with ``auth.api_key`` (the access key id) and
  ``auth.api_secret`` (the secret access key), and ``auth.token`` for a
  session token; or ``auth.method = "profile"``: boto3's own credential
  chain (``AWS_*`` variables, ``options.profile`` or the default profile,
  an instance role).  Without a method: api_key when a key is given.
- ``api.base_url`` replaces every service's endpoint (how the tests reach a
  local endpoint); ``api.timeout`` per request; ``api.retries`` the core's
  retries of throttling and 5xx (botocore's own are off).
- ``defaults.zone`` (an availability zone such as ``eu-west-1a``, or a
  region), ``defaults.ssh_user`` (else the image's user).
- ``options``: ``region`` (when ``defaults.zone`` gives none; default
  us-east-1), ``regions`` (listed by ``list_servers``; default the region),
  ``subnet_id``, ``security_group_ids`` (added to every server), ``vpc_id``,
  ``images`` (os name -> AMI id), ``user_data``, ``key_path`` (the private
  key SSH uses), ``use_private_ip``, ``profile``, ``pricing_ttl`` (seconds,
  default a day), ``volume_size`` (GB) and ``volume_type``.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from provisioning_core import (
    ConfigError,
    ConnectionResult,
    FirewallRule,
    Plan,
    Price,
    ProviderInfo,
    ProviderSettings,
    ProvisioningError,
    Server,
    ServerConfig,
    ServerNotFound,
    ServerStatus,
    SshAccess,
    ValidationReport,
    Zone,
    hookimpl,
)

from provisioning_provider_aws import __version__, firewall, images, pricing
from provisioning_provider_aws.client import (
    METHODS,
    PROVIDER,
    Aws,
    auth_method,
    log,
    region_of,
)

OPTIONS = {
    "region",
    "regions",
    "subnet_id",
    "security_group_ids",
    "vpc_id",
    "images",
    "user_data",
    "key_path",
    "use_private_ip",
    "profile",
    "pricing_ttl",
    "volume_size",
    "volume_type",
}
MANAGED_TAG = "prov:managed-by"
USER_TAG = "prov:ssh-user"
_STATES = {
    "pending": ServerStatus.CREATING,
    "running": ServerStatus.RUNNING,
    "stopping": ServerStatus.STOPPING,
    "stopped": ServerStatus.STOPPED,
    "shutting-down": ServerStatus.DELETING,
}
_WHERE = f"$.providers.{PROVIDER}"


# -- records -------------------------------------------------------------------


def _server(instance: dict[str, Any]) -> Server:
    tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
    state = instance.get("State", {}).get("Name", "")
    addresses = [
        a for a in (instance.get("PublicIpAddress"), instance.get("PrivateIpAddress")) if a
    ]
    return Server(
        id=str(instance["InstanceId"]),
        hostname=tags.get("Name") or str(instance["InstanceId"]),
        status=_STATES.get(state, ServerStatus.ERROR),
        plan=instance.get("InstanceType"),
        zone=instance.get("Placement", {}).get("AvailabilityZone"),
        ip_addresses=addresses,
        tags={k: v for k, v in tags.items() if k != "Name" and not k.startswith("prov:")},
    )


def _regions(aws: Aws) -> list[str]:
    extra = aws.settings.options.get("regions")
    listed = [r for r in extra if isinstance(r, str)] if isinstance(extra, list) else []
    return [aws.region, *(r for r in listed if r != aws.region)]


def _instance(aws: Aws, server_id: str) -> tuple[dict[str, Any], str]:
    """The instance ``server_id`` and its region; ServerNotFound when gone or terminated."""
    for region in _regions(aws):
        try:
            found = aws.call("ec2", "describe_instances", region=region, InstanceIds=[server_id])
        except ServerNotFound:
            continue
        for reservation in found.get("Reservations", []):
            for instance in reservation.get("Instances", []):
                if instance.get("State", {}).get("Name") != "terminated":
                    return instance, region
    raise ServerNotFound(server_id, provider=PROVIDER)


def _option(settings: ProviderSettings, name: str, default: float) -> float:
    value = settings.options.get(name)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return default


# -- provider ------------------------------------------------------------------


@hookimpl
def provider_info() -> ProviderInfo:
    return ProviderInfo(
        name=PROVIDER,
        version=__version__,
        description="EC2 instances on Amazon Web Services, through AWS's official SDK (boto3)",
        homepage="https://aws.amazon.com/ec2/",
        regions=[
            "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1",
            "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1", "eu-south-1",
            "ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-southeast-1",
            "ap-southeast-2", "af-south-1", "me-south-1",
        ],
    )  # fmt: skip


@hookimpl
def validate_config(settings: ProviderSettings) -> ValidationReport:
    errors: list[str] = []
    warnings: list[str] = []
    checks: dict[str, str] = {}
    auth = settings.auth
    method = auth.method
    if method is not None and method not in METHODS:
        errors.append(
            f"auth.method {method!r} is not one this provider supports: "
            f"{', '.join(METHODS)} @ {_WHERE}.auth.method"
        )
    elif auth_method(settings) == "api_key":
        if not auth.api_key:
            errors.append(
                f'api_key method without an access key id: set api_key = "${{AWS_ACCESS_KEY_ID}}" '
                f"@ {_WHERE}.auth.api_key"
            )
        if not auth.api_secret:
            errors.append(
                "api_key method without a secret access key: set "
                f'api_secret = "${{AWS_SECRET_ACCESS_KEY}}" @ {_WHERE}.auth.api_secret'
            )
    elif auth.api_key or auth.api_secret:
        warnings.append(
            f"auth.method is profile: api_key and api_secret are ignored @ {_WHERE}.auth"
        )
    if auth.username or auth.password:
        warnings.append(f"username and password are not used by AWS @ {_WHERE}.auth")
    checks["auth"] = "failed" if errors else "passed"
    before = len(errors)
    errors += _check_api(settings, warnings)
    checks["api"] = "failed" if len(errors) > before else "passed"
    before = len(errors)
    errors += _check_options(settings, warnings)
    checks["options"] = "failed" if len(errors) > before else "passed"
    return ValidationReport(valid=not errors, errors=errors, warnings=warnings, checks=checks)


def _check_api(settings: ProviderSettings, warnings: list[str]) -> list[str]:
    errors = []
    base_url = settings.api.base_url
    if base_url is not None:
        parts = urlsplit(base_url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            errors.append(
                f"base_url {base_url!r} is not an http(s) URL such as "
                f"http://127.0.0.1:5000 (one endpoint for every service) @ {_WHERE}.api.base_url"
            )
        elif parts.scheme == "http" and parts.hostname not in {"127.0.0.1", "localhost", "::1"}:
            warnings.append(
                f"base_url {base_url!r} is plain http: requests would cross the network "
                f"unencrypted @ {_WHERE}.api.base_url"
            )
    if not settings.api.timeout > 0:
        errors.append(
            f"timeout must be above 0 seconds, not {settings.api.timeout} @ {_WHERE}.api.timeout"
        )
    zone = settings.defaults.zone
    if zone and region_of(zone) is None:
        errors.append(
            f"zone {zone!r} is neither a region (eu-west-1) nor an availability zone "
            f"(eu-west-1a) @ {_WHERE}.defaults.zone"
        )
    return errors


def _check_options(settings: ProviderSettings, warnings: list[str]) -> list[str]:
    options = settings.options
    errors = []
    known = ", ".join(sorted(OPTIONS))
    warnings += [
        f"unknown option {name!r} ignored; known: {known} @ {_WHERE}.options.{name}"
        for name in sorted(set(options) - OPTIONS)
    ]
    for name in ("region",):
        value = options.get(name)
        if value is not None and (not isinstance(value, str) or region_of(value) is None):
            errors.append(
                f"{name} {value!r} is not a region such as eu-west-1 @ {_WHERE}.options.{name}"
            )
    regions = options.get("regions")
    if regions is not None and (
        not isinstance(regions, list)
        or not all(isinstance(r, str) and region_of(r) == r for r in regions)
    ):
        errors.append(
            f"regions must be a list of regions such as ['eu-west-1'], not {regions!r} "
            f"@ {_WHERE}.options.regions"
        )
    own = options.get("images")
    if own is not None and (
        not isinstance(own, dict) or not all(isinstance(v, str) for v in own.values())
    ):
        errors.append(
            f'images must map an os to an AMI id, such as {{ web = "ami-0123..." }} '
            f"@ {_WHERE}.options.images"
        )
    groups = options.get("security_group_ids")
    if groups is not None and (
        not isinstance(groups, list) or not all(isinstance(g, str) for g in groups)
    ):
        errors.append(
            f"security_group_ids must be a list of ids @ {_WHERE}.options.security_group_ids"
        )
    for name in ("pricing_ttl", "volume_size"):
        value = options.get(name)
        if value is not None and (
            not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0
        ):
            errors.append(
                f"{name} must be a number above 0, not {value!r} @ {_WHERE}.options.{name}"
            )
    return errors


@hookimpl
def test_connection(settings: ProviderSettings) -> ConnectionResult:
    start = time.perf_counter()
    try:
        aws = Aws(settings)
        identity = aws.call("sts", "get_caller_identity")
    except ProvisioningError as exc:  # refused credentials are a result, not a failure
        return ConnectionResult(ok=False, message=exc.message)
    account, arn = str(identity.get("Account", "")), str(identity.get("Arn", ""))
    return ConnectionResult(
        ok=True,
        message=f"authenticated to AWS as {arn} (account {account}, region {aws.region})",
        latency_ms=(time.perf_counter() - start) * 1000,
        details={"account": account, "arn": arn, "region": aws.region},
    )


# -- create --------------------------------------------------------------------


def _check_plan(aws: Aws, region: str, plan: str) -> None:
    try:
        aws.call("ec2", "describe_instance_types", region=region, InstanceTypes=[plan])
    except ProvisioningError as exc:
        if "InvalidInstanceType" not in exc.message and "InvalidParameterValue" not in exc.message:
            raise
        raise ConfigError(
            f"AWS has no instance type {plan!r} in {region}",
            problems=[f"unknown plan {plan!r} @ --plan"],
            hint="prov server plans --provider aws lists the instance types",
        ) from None


def _check_zone(aws: Aws, zone: str) -> str:
    """The region of ``zone``, refused (exit 2) when it is neither a region nor an AZ of one."""
    region = region_of(zone)
    if region is None:
        raise ConfigError(
            f"{zone!r} is not an AWS zone",
            problems=[
                (
                    f"unknown zone {zone!r}: give a region (eu-west-1) or an availability zone "
                    "(eu-west-1a) @ --zone"
                )
            ],
            hint="prov server zones --provider aws lists them",
        )
    if region not in _regions(aws):
        # a server there would be lost: every later call looks in these regions only
        raise ConfigError(
            f"zone {zone!r} is in {region}, where the aws provider does not look for servers",
            problems=[
                (
                    f"region {region} is neither the provider's region ({aws.region}) nor one "
                    "of options.regions @ --zone"
                )
            ],
            hint=f'add it: providers.aws.options.regions = ["{region}"], or make it the '
            "region of providers.aws.defaults.zone",
        )
    if zone != region:
        found = aws.call("ec2", "describe_availability_zones", region=region)
        names = [z["ZoneName"] for z in found.get("AvailabilityZones", [])]
        if zone not in names:
            raise ConfigError(
                f"{region} has no availability zone {zone!r}",
                problems=[f"unknown zone {zone!r}; allowed: {', '.join(names)} @ --zone"],
                hint="prov server zones --provider aws lists them",
            )
    return region


def _image_id(aws: Aws, region: str, image: images.Image) -> str:
    if image.ami:
        return image.ami
    assert image.parameter is not None
    try:
        found = aws.call("ssm", "get_parameter", region=region, Name=image.parameter)
    except ProvisioningError as exc:
        if "ParameterNotFound" not in exc.message:
            raise
        raise ConfigError(
            f"AWS publishes no {image.os} image in {region}",
            problems=[f"no SSM parameter {image.parameter} in {region} @ --os"],
            hint=f'set providers.aws.options.images = {{ "{image.os}" = "ami-..." }}',
        ) from None
    return str(found["Parameter"]["Value"])


def _key_name(aws: Aws, region: str, public_key: str, *, check: bool) -> str:
    """The key pair holding ``public_key``, imported once per region and reused."""
    digest = hashlib.sha256(" ".join(public_key.split()[:2]).encode()).hexdigest()[:20]
    name = f"prov-{digest}"
    try:
        aws.call("ec2", "describe_key_pairs", region=region, KeyNames=[name])
    except ProvisioningError as exc:
        if "InvalidKeyPair.NotFound" not in exc.message:
            raise
        if not check:
            try:
                aws.call(
                    "ec2",
                    "import_key_pair",
                    region=region,
                    KeyName=name,
                    PublicKeyMaterial=public_key.encode(),
                    TagSpecifications=[
                        {
                            "ResourceType": "key-pair",
                            "Tags": [{"Key": MANAGED_TAG, "Value": "provisioning"}],
                        }
                    ],
                )
            except ProvisioningError as again:
                # a create running beside this one imported it first: the same key, reused
                if "InvalidKeyPair.Duplicate" not in again.message:
                    raise
    return name


def _user_data(settings: ProviderSettings, extra_keys: list[str]) -> str | None:
    given = settings.options.get("user_data")
    if isinstance(given, str) and given:
        if extra_keys:
            log.warning(
                "aws: options.user_data is set: %d extra SSH keys are not added", len(extra_keys)
            )
        return given
    if not extra_keys:
        return None
    lines = ["#cloud-config", "ssh_authorized_keys:", *(f"  - {k}" for k in extra_keys)]
    return "\n".join(lines) + "\n"


def _launch_request(
    settings: ProviderSettings,
    config: ServerConfig,
    region: str,
    ami: str,
    user: str,
    key_name: str | None,
    extra_keys: list[str],
    root_device: str | None = None,
) -> dict[str, Any]:
    """The run_instances request of ``config`` (every option applied)."""
    tags = [
        {"Key": "Name", "Value": config.hostname},
        {"Key": MANAGED_TAG, "Value": "provisioning"},
        {"Key": USER_TAG, "Value": user},
        *({"Key": k, "Value": v} for k, v in config.tags.items()),
    ]
    request: dict[str, Any] = {
        "ImageId": ami,
        "InstanceType": config.plan,
        "MinCount": 1,
        "MaxCount": 1,
        "TagSpecifications": [{"ResourceType": "instance", "Tags": tags}],
    }
    options = settings.options
    if key_name:
        request["KeyName"] = key_name
    if config.zone != region:
        request["Placement"] = {"AvailabilityZone": config.zone}
    subnet = options.get("subnet_id")
    if isinstance(subnet, str) and subnet:
        request["SubnetId"] = subnet
    groups = options.get("security_group_ids")
    if isinstance(groups, list) and groups:
        request["SecurityGroupIds"] = [g for g in groups if isinstance(g, str)]
    user_data = _user_data(settings, extra_keys)
    if user_data:
        request["UserData"] = user_data
    _storage_and_network(request, config, settings, root_device)
    return request


def _storage_and_network(
    request: dict[str, Any], config: ServerConfig, settings: ProviderSettings, root: str | None
) -> None:
    """The seed's ``storage`` and ``network`` of ``config``, added to ``request``."""
    options = settings.options
    storage, network = config.storage, config.network
    if network is not None and network.bandwidth is not None:
        raise ConfigError(
            "aws instances have no bandwidth cap to set (the instance type decides)",
            problems=["aws does not take network.bandwidth @ network.bandwidth"],
            hint="leave out --bandwidth, or choose a larger instance type",
        )
    if network is not None and network.private_network:
        request["SubnetId"] = network.private_network  # the seed's private network: a subnet
    if network is not None and not network.public_ip:
        _no_public_ip(request)
    if root is None:  # neither storage nor a volume option: the image's own volume
        return
    size = (storage.size if storage else None) or options.get("volume_size")
    kind = (storage.type if storage else None) or options.get("volume_type")
    volume: dict[str, Any] = {"VolumeType": str(kind or "gp3")}
    if storage is not None:  # the seed's storage.encrypted; None: features.storage_encryption
        encrypted = storage.encrypted
        volume["Encrypted"] = (
            encrypted if encrypted is not None else settings.features.storage_encryption
        )
    if size:
        volume["VolumeSize"] = int(size)
    request["BlockDeviceMappings"] = [{"DeviceName": root, "Ebs": volume}]


def _no_public_ip(request: dict[str, Any]) -> None:
    """Launch without a public address: one network interface that asks for none.

    EC2 takes the subnet and groups on the interface then, not on the request.
    """
    interface: dict[str, Any] = {"DeviceIndex": 0, "AssociatePublicIpAddress": False}
    if "SubnetId" in request:
        interface["SubnetId"] = request.pop("SubnetId")
    if "SecurityGroupIds" in request:
        interface["Groups"] = request.pop("SecurityGroupIds")
    request["NetworkInterfaces"] = [interface]


@hookimpl
def create_server(settings: ProviderSettings, config: ServerConfig, check: bool) -> Server:
    aws = Aws(settings)
    # reads only, also in check mode: they prove the zone, plan and image exist
    region = _check_zone(aws, config.zone)
    _check_plan(aws, region, config.plan)
    own = settings.options.get("images")
    image = images.image_for(
        config.os, own if isinstance(own, dict) else {}, settings.defaults.ssh_user
    )
    ingress, egress = firewall.permissions(config.firewall_rules, "$.firewall_rules")
    ami = _image_id(aws, region, image)
    keys = [k for k in config.ssh_keys if k.strip()]
    if not keys:
        log.warning("aws: %s gets no SSH key: nothing will log in to it", config.hostname)
    key_name = _key_name(aws, region, keys[0], check=check) if keys else None
    root = _root_device(aws, region, ami, config, settings)
    request = _launch_request(settings, config, region, ami, image.user, key_name, keys[1:], root)
    if check:
        log.info("aws: check mode: would run_instances %s", _shown(request))
        if config.firewall_rules:
            log.info(
                "aws: check mode: would create a security group with %d ingress and %d "
                "egress permissions",
                len(ingress),
                len(egress),
            )
        return Server(
            id="",
            hostname=config.hostname,
            status=ServerStatus.CREATING,
            plan=config.plan,
            zone=config.zone,
            tags=dict(config.tags),
        )
    if not config.firewall_rules:
        return _server(aws.call("ec2", "run_instances", region=region, **request)["Instances"][0])
    # the server's own group, made before the launch (AWS changes the groups of a
    # running or stopped instance only) and given instead of the VPC's default group
    group = _new_group(aws, region, config.hostname, _vpc_of(aws, region))
    try:
        _set_rules(aws, region, group, ingress, egress)
        if "NetworkInterfaces" in request:  # no public address: groups go on the interface
            interface = request["NetworkInterfaces"][0]
            interface["Groups"] = [group["GroupId"], *interface.get("Groups", [])]
        else:
            request["SecurityGroupIds"] = [group["GroupId"], *request.get("SecurityGroupIds", [])]
        instance = aws.call("ec2", "run_instances", region=region, **request)["Instances"][0]
    except ProvisioningError:
        _delete_group(aws, region, str(group["GroupId"]))
        raise
    try:
        aws.call(
            "ec2", "create_tags", region=region, Resources=[group["GroupId"]],
            Tags=[{"Key": firewall.SERVER_TAG, "Value": str(instance["InstanceId"])}],
        )  # fmt: skip
    except ProvisioningError as exc:
        # never transient: a retry of create_server would launch a second instance
        raise ProvisioningError(
            f"AWS: instance {config.hostname} ({instance['InstanceId']}) was launched with its "
            f"firewall, but tagging the group {group['GroupId']} failed: {exc.message}",
            hint=f"tag it {firewall.SERVER_TAG}={instance['InstanceId']} in the AWS console, "
            "or delete the server",
        ) from None
    return _server(instance)


def _root_device(
    aws: Aws, region: str, ami: str, config: ServerConfig, settings: ProviderSettings
) -> str | None:
    """The image's root device name, when the root volume is set (else not needed)."""
    options = settings.options
    if config.storage is None and not (options.get("volume_size") or options.get("volume_type")):
        return None
    found = aws.call("ec2", "describe_images", region=region, ImageIds=[ami]).get("Images", [])
    return str(found[0].get("RootDeviceName") or "/dev/xvda") if found else None


def _vpc_of(aws: Aws, region: str) -> str | None:
    """The VPC new servers go to: ``options.vpc_id``, the subnet's, else None (the default)."""
    vpc = aws.settings.options.get("vpc_id")
    if isinstance(vpc, str) and vpc:
        return vpc
    subnet = aws.settings.options.get("subnet_id")
    if isinstance(subnet, str) and subnet:
        found = aws.call("ec2", "describe_subnets", region=region, SubnetIds=[subnet])
        return str(found["Subnets"][0]["VpcId"])
    return None


def _shown(request: dict[str, Any]) -> str:
    shown = dict(request)
    if "UserData" in shown:
        shown["UserData"] = f"<{len(shown['UserData'])} bytes>"
    return repr(shown)


# -- lifecycle -----------------------------------------------------------------


@hookimpl
def delete_server(settings: ProviderSettings, server_id: str) -> None:
    aws = Aws(settings)
    _, region = _instance(aws, server_id)  # ServerNotFound once terminated, as the contract says
    aws.call("ec2", "terminate_instances", region=region, InstanceIds=[server_id])
    _sweep_groups(aws, region)


def _sweep_groups(aws: Aws, region: str) -> None:
    """Delete the security groups of servers that are gone (a group outlives its
    instance while that shuts down, so each delete sweeps what earlier ones left)."""
    pages = aws.pages(
        "ec2", "describe_security_groups", region=region,
        Filters=[{"Name": "tag-key", "Values": [firewall.SERVER_TAG]}],
    )  # fmt: skip
    for page in pages:
        for group in page.get("SecurityGroups", []):
            tags = {t["Key"]: t["Value"] for t in group.get("Tags", [])}
            owner = tags.get(firewall.SERVER_TAG, "")
            try:
                _instance(aws, owner)
                continue
            except ServerNotFound:
                pass
            try:
                aws.call("ec2", "delete_security_group", region=region, GroupId=group["GroupId"])
            except ProvisioningError as exc:  # still attached while shutting down: next time
                log.info("aws: security group %s kept for now: %s", group["GroupId"], exc.message)


@hookimpl
def list_servers(settings: ProviderSettings) -> list[Server]:
    aws = Aws(settings)
    servers = []
    for region in _regions(aws):
        for page in aws.pages(
            "ec2", "describe_instances", region=region, PaginationConfig={"PageSize": 1000}
        ):
            for reservation in page.get("Reservations", []):
                servers += [
                    _server(i)
                    for i in reservation.get("Instances", [])
                    if i.get("State", {}).get("Name") != "terminated"
                ]
    return servers


@hookimpl
def get_server_info(settings: ProviderSettings, server_id: str) -> Server:
    instance, _ = _instance(Aws(settings), server_id)
    return _server(instance)


def _power(settings: ProviderSettings, server_id: str, operation: str, *, done: set[str]) -> None:
    """``operation`` on the instance, unless its state is one of ``done`` already."""
    aws = Aws(settings)
    instance, region = _instance(aws, server_id)
    state = instance["State"]["Name"]
    if state in done:
        return
    if operation == "reboot_instances" and state == "stopped":
        operation = "start_instances"  # a stopped server reboots by starting
    aws.call("ec2", operation, region=region, InstanceIds=[server_id])


@hookimpl
def start_server(settings: ProviderSettings, server_id: str) -> None:
    _power(settings, server_id, "start_instances", done={"running", "pending"})


@hookimpl
def stop_server(settings: ProviderSettings, server_id: str) -> None:
    _power(settings, server_id, "stop_instances", done={"stopped", "stopping"})


@hookimpl
def reboot_server(settings: ProviderSettings, server_id: str) -> None:
    _power(settings, server_id, "reboot_instances", done=set())


# -- catalogue -----------------------------------------------------------------


@hookimpl
def get_plans(settings: ProviderSettings) -> list[Plan]:
    plans = []
    for page in Aws(settings).pages("ec2", "describe_instance_types"):
        for t in page.get("InstanceTypes", []):
            storage = t.get("InstanceStorageInfo", {}).get("TotalSizeInGB")
            plans.append(
                Plan(
                    name=str(t["InstanceType"]),
                    cores=t.get("VCpuInfo", {}).get("DefaultVCpus"),
                    memory_mb=t.get("MemoryInfo", {}).get("SizeInMiB"),
                    storage_gb=int(storage) if storage else None,
                )
            )
    return sorted(plans, key=lambda p: p.name)


@hookimpl
def get_zones(settings: ProviderSettings) -> list[Zone]:
    aws = Aws(settings)
    regions = aws.call("ec2", "describe_regions").get("Regions", [])
    zones = [
        Zone(name=str(r["RegionName"]), description="region: any of its availability zones")
        for r in sorted(regions, key=lambda r: str(r["RegionName"]))
    ]
    for region in _regions(aws):
        found = aws.call("ec2", "describe_availability_zones", region=region)
        zones += [
            Zone(name=str(z["ZoneName"]), description=f"availability zone of {region}")
            for z in found.get("AvailabilityZones", [])
            if z.get("State", "available") == "available"
        ]
    return zones


@hookimpl
def get_pricing(settings: ProviderSettings) -> list[Price]:
    aws = Aws(settings)
    ttl = _option(settings, "pricing_ttl", pricing.DEFAULT_TTL)
    return [p for region in _regions(aws) for p in pricing.prices(aws, region, ttl)]


# -- access --------------------------------------------------------------------


@hookimpl
def get_ssh_access(settings: ProviderSettings, server_id: str) -> SshAccess:
    instance, _ = _instance(Aws(settings), server_id)
    tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
    private = settings.options.get("use_private_ip") is True
    host = (
        instance.get("PrivateIpAddress")
        if private
        else instance.get("PublicIpAddress") or instance.get("PublicDnsName")
    )
    if not host:
        raise ProvisioningError(
            f"AWS instance {tags.get('Name', server_id)} ({server_id}) has no "
            f"{'private' if private else 'public'} address to reach over SSH",
            hint="launch it in a subnet that assigns public addresses, or set "
            "providers.aws.options.use_private_ip = true when you reach it from inside its VPC",
        )
    key_path = settings.options.get("key_path")
    return SshAccess(
        host=str(host),
        port=22,
        user=settings.defaults.ssh_user or tags.get(USER_TAG) or "ec2-user",
        key_path=key_path if isinstance(key_path, str) and key_path else None,
    )


@hookimpl
def configure_firewall(
    settings: ProviderSettings, server_id: str, rules: list[FirewallRule]
) -> None:
    ingress, egress = firewall.permissions(rules)  # all checked before anything is called
    aws = Aws(settings)
    instance, region = _instance(aws, server_id)
    tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
    _apply_firewall(aws, region, instance, tags.get("Name", server_id), ingress, egress)


def _apply_firewall(
    aws: Aws,
    region: str,
    instance: dict[str, Any],
    hostname: str,
    ingress: list[dict[str, Any]],
    egress: list[dict[str, Any]],
) -> None:
    server_id = str(instance["InstanceId"])
    found = aws.call(
        "ec2", "describe_security_groups", region=region,
        Filters=[{"Name": f"tag:{firewall.SERVER_TAG}", "Values": [server_id]}],
    )  # fmt: skip
    groups: list[dict[str, Any]] = found.get("SecurityGroups", [])
    group = (
        groups[0] if groups else _new_group(aws, region, hostname, instance.get("VpcId"), server_id)
    )
    _set_rules(aws, region, group, ingress, egress)
    # exactly its own group and the options' groups: the VPC's default group, which
    # lets all egress and all traffic from its members, would widen the rules
    extra = aws.settings.options.get("security_group_ids")
    wanted = [str(group["GroupId"])]
    wanted += [g for g in extra if isinstance(g, str)] if isinstance(extra, list) else []
    attached = [g["GroupId"] for g in instance.get("SecurityGroups", [])]
    if sorted(attached) != sorted(wanted):
        aws.call(
            "ec2", "modify_instance_attribute", region=region, InstanceId=server_id,
            Groups=wanted,
        )  # fmt: skip


def _set_rules(
    aws: Aws,
    region: str,
    group: dict[str, Any],
    ingress: list[dict[str, Any]],
    egress: list[dict[str, Any]],
) -> None:
    """Make ``group``'s permissions exactly these: the new ones first, then the old ones
    revoked, so a failure half-way never leaves the server with fewer than it had."""
    group_id = str(group["GroupId"])
    changes = []
    for kind, current, wanted in (
        ("ingress", group.get("IpPermissions", []), ingress),
        ("egress", group.get("IpPermissionsEgress", []), egress),
    ):
        have, want = firewall.permission_keys(current), firewall.permission_keys(wanted)
        changes.append((kind, have - want, want - have))
    for kind, _, added in changes:
        if added:
            aws.call(
                "ec2", f"authorize_security_group_{kind}", region=region, GroupId=group_id,
                IpPermissions=firewall.split(added),
            )  # fmt: skip
    for kind, removed, _ in changes:
        if removed:
            aws.call(
                "ec2", f"revoke_security_group_{kind}", region=region, GroupId=group_id,
                IpPermissions=firewall.split(removed),
            )  # fmt: skip


def _new_group(
    aws: Aws, region: str, hostname: str, vpc: str | None, server_id: str | None = None
) -> dict[str, Any]:
    """A new security group for ``hostname``, tagged with its server once that is known."""
    tags = [{"Key": MANAGED_TAG, "Value": "provisioning"}]
    if server_id:
        tags.append({"Key": firewall.SERVER_TAG, "Value": server_id})
    request: dict[str, Any] = {
        "GroupName": f"prov-{hostname}-{server_id or secrets.token_hex(4)}",
        "Description": f"provisioning: the firewall of {hostname}",
        "TagSpecifications": [{"ResourceType": "security-group", "Tags": tags}],
    }
    if vpc:
        request["VpcId"] = vpc
    group_id = aws.call("ec2", "create_security_group", region=region, **request)["GroupId"]
    described = aws.call("ec2", "describe_security_groups", region=region, GroupIds=[group_id])
    created: dict[str, Any] = described["SecurityGroups"][0]
    return created


def _delete_group(aws: Aws, region: str, group_id: str) -> None:
    try:
        aws.call("ec2", "delete_security_group", region=region, GroupId=group_id)
    except ProvisioningError as exc:
        log.warning("aws: the unused security group %s is left: %s", group_id, exc.message)
