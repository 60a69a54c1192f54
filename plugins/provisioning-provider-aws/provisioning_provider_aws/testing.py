"""The ``aws`` provider's conformance environment: the core's suite against moto.

``prov plugin test aws`` runs :class:`Conformance`; the plugin's own tests run
it as ``class TestConformance(Conformance): pass``.  Each test gets a fresh
:class:`~provisioning_provider_aws.lab.AwsLab` (moto's server behind a small
front), the settings point at it with access keys, and ``backend_writes``
counts the mutating requests that reached moto, so check mode is proven to
send none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from provisioning_core import ProviderApi, ProviderAuth, ProviderSettings, Secret
from provisioning_core.testing import ProviderConformance

from provisioning_provider_aws.lab import ACCESS_KEY, SECRET_KEY, AwsLab

__all__ = ["Conformance", "lab_settings", "lab_workspace"]

_WORKSPACE = """
[providers.aws.auth]
method = "api_key"
api_key = "${{AWS_ACCESS_KEY_ID}}"
api_secret = "${{AWS_SECRET_ACCESS_KEY}}"

[providers.aws.api]
base_url = "{base_url}"
timeout = 30
{api}

[providers.aws.defaults]
zone = "us-east-1a"
plan = "t3.micro"
os = "amazon-linux-2023"

[providers.aws.options]
region = "us-east-1"

[operations]
wait_interval = 0.05
wait_timeout = 30
retry_base_delay = 0.01
retry_max_delay = 0.2
"""


def lab_workspace(base_url: str, *, api: str = "") -> str:
    """A provisioning.toml whose [providers.aws] reaches the lab at ``base_url``, the keys
    read from ``${AWS_ACCESS_KEY_ID}`` and ``${AWS_SECRET_ACCESS_KEY}`` (set them to
    :data:`~provisioning_provider_aws.lab.ACCESS_KEY` and ``SECRET_KEY``); ``api`` adds
    lines to ``[providers.aws.api]``."""
    return _WORKSPACE.format(base_url=base_url, api=api)


def lab_settings(lab: AwsLab, **options: object) -> ProviderSettings:
    """Settings that reach ``lab`` with its access keys, in region us-east-1."""
    return ProviderSettings(
        name="aws",
        auth=ProviderAuth(
            method="api_key", api_key=Secret(ACCESS_KEY), api_secret=Secret(SECRET_KEY)
        ),
        api=ProviderApi(base_url=lab.base_url, timeout=30.0),
        options={"region": "us-east-1", **options},
    )


class Conformance(ProviderConformance):
    """The core's provider conformance suite, run against moto's server."""

    provider = "aws"
    timeout = 60.0
    plan = "t3.micro"
    zone = "us-east-1a"
    os = "amazon-linux-2023"
    missing_id = "i-00000000000000000"

    @pytest.fixture
    def aws_lab(self) -> Iterator[AwsLab]:
        with AwsLab() as lab:
            yield lab

    @pytest.fixture
    def provider_settings(self, aws_lab: AwsLab) -> ProviderSettings:
        return lab_settings(aws_lab)

    @pytest.fixture
    def backend_writes(self, aws_lab: AwsLab) -> Callable[[], int]:
        return lambda: aws_lab.writes
