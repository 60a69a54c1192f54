"""The aws provider against moto's server (the plugin's AwsLab), with baselines in the same run.

- ``prov server list --provider aws`` over 500 instances (the real entry
  point in process: configuration, the provider's hook through the core,
  boto3, the inventory's reconcile, JSON) against a bare boto3
  ``describe_instances`` paginator over the same instances and endpoint,
  with a client made once: what prov adds to listing (goal <= 1.3x);
- the ``list_servers`` hook alone, against the same baseline;
- 50 creates with ``--parallelism 10`` against ``--parallelism 1``: what
  the core's bounded parallelism buys against a real local endpoint.

moto runs in a process of its own here, so it does not share prov's GIL.

Needs provisioning-provider-aws[test] installed (``nox -s bench`` installs
it); the section reports itself as failed otherwise.  Imported by run.py only
after PROV_HOME points at a temporary directory.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cases import Report
from timing import Timing, each_round

INSTANCES = 500
CREATES = 50


def run_aws(report: Report, root: Path, *, quick: bool) -> None:
    import boto3
    from provisioning_provider_aws.lab import ACCESS_KEY, SECRET_KEY, AwsLab
    from provisioning_provider_aws.testing import lab_settings, lab_workspace

    from provisioning_core import ExtensionManager
    from provisioning_core.testing import run_prov

    n = 5 if quick else 15
    work = root / "aws-work"
    work.mkdir()
    cwd = Path.cwd()
    os.chdir(work)  # the workspace's provisioning.toml is read from the working directory
    try:
        with AwsLab(own_process=True) as lab, _environment(ACCESS_KEY, SECRET_KEY):
            (work / "provisioning.toml").write_text(lab_workspace(lab.base_url))
            ec2 = boto3.client(
                "ec2", region_name="us-east-1", endpoint_url=lab.base_url,
                aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
            )  # fmt: skip
            image = _al2023(lab)
            for _ in range(INSTANCES):
                ec2.run_instances(ImageId=image, InstanceType="t3.micro", MinCount=1, MaxCount=1)
            provider = ExtensionManager().load_extension("provider", "aws")
            settings = lab_settings(lab)

            def bare() -> None:
                pages = ec2.get_paginator("describe_instances").paginate(
                    PaginationConfig={"PageSize": 1000}
                )
                count = sum(len(r["Instances"]) for p in pages for r in p["Reservations"])
                assert count == INSTANCES, count

            def hook() -> None:
                assert len(provider.call("list_servers", settings=settings)) == INSTANCES

            def command() -> None:
                result = run_prov("server", "list", "--provider", "aws", "-o", "json")
                assert result.exit_code == 0, result.output
                assert len(result.json()["servers"]) == INSTANCES

            command()  # the first list adopts the 500 into the inventory; time the steady state
            via_cli, via_hook, baseline = each_round([command, hook, bare], n=n)
            listing = f"{INSTANCES} instances"
            report.time("aws.list.cli", f"prov server list --provider aws, {listing}", via_cli)
            report.time("aws.list.hook", f"list_servers through the core, {listing}", via_hook)
            report.time("aws.list.boto3", "bare boto3 paginator (baseline)", baseline)
            report.ratio(
                "ratio.aws_list_cli", "prov server list / bare paginator", "aws.list.cli",
                "aws.list.boto3", at_most=1.3,
                note="config, the core's dispatch, mapping, the reconcile, JSON",
            )  # fmt: skip
            report.ratio(
                "ratio.aws_list_hook", "list_servers hook / bare paginator", "aws.list.hook",
                "aws.list.boto3",
            )  # fmt: skip

            lab.reset()
            parallel = _creates(run_prov, 10)
            lab.reset()
            serial = _creates(run_prov, 1)
            report.time("aws.create.p10", f"{CREATES} creates, --parallelism 10", parallel)
            report.time("aws.create.p1", f"{CREATES} creates, --parallelism 1 (baseline)", serial)
            report.ratio(
                "ratio.aws_create", "parallelism 10 / parallelism 1", "aws.create.p10",
                "aws.create.p1", note="wall time of the whole command, each create waited for",
            )  # fmt: skip
    finally:
        os.chdir(cwd)
    report.meta["aws"] = {"peer": "moto's server behind the plugin's AwsLab front, in process"}


@contextmanager
def _environment(key: str, secret: str) -> Iterator[None]:
    """The lab's keys in the variables the workspace file names, for the run only."""
    names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(dict(zip(names, (key, secret), strict=True)))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _creates(run_prov: Callable[..., Any], parallelism: int) -> Timing:
    start = time.perf_counter()
    result = run_prov(
        "server", "create", f"p{parallelism}", "--provider", "aws", "--count", str(CREATES),
        "--parallelism", str(parallelism), "--wait", "-o", "json",
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    assert result.exit_code == 0, result.output
    names = [f"p{parallelism}-{i}" for i in range(1, CREATES + 1)]
    done = run_prov("server", "delete", *names, "-o", "json")
    assert done.exit_code == 0, done.output
    return Timing([elapsed])


def _al2023(lab: Any) -> str:
    import boto3

    ssm = boto3.client(
        "ssm", region_name="us-east-1", endpoint_url=lab.moto_url,
        aws_access_key_id="x", aws_secret_access_key="y",
    )  # fmt: skip
    name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
    return str(ssm.get_parameter(Name=name)["Parameter"]["Value"])


SECTIONS: dict[str, Callable[..., None]] = {"aws": run_aws}
