"""AWS's errors as the core's: throttling retried by the core alone (botocore's retries
are off), refused credentials as exit 2 naming the setting, an unreachable endpoint."""

from __future__ import annotations

import socket

import attrs
import pytest
from aws_support import document, prov
from provisioning_core import ConfigError, ProviderAuth, Secret, TransientError

from provisioning_provider_aws.lab import ACCESS_KEY
from provisioning_provider_aws.testing import lab_workspace


def test_throttling_is_transient_and_botocore_does_not_retry_it(aws, lab):
    lab.throttle(1)
    before = lab.requests
    with pytest.raises(TransientError) as caught:
        aws.call("list_servers")
    assert caught.value.status is None  # refused before acting: the core may repeat a create
    assert "AWS ec2 describe_instances: RequestLimitExceeded: Request limit exceeded." in str(
        caught.value
    )
    assert lab.requests - before == 1  # one request, not botocore's 3 or 5
    assert aws.call("list_servers") == []  # the next one gets through


def test_the_cores_retries_wait_out_throttling(lab, workspace):
    workspace.write_text(lab_workspace(lab.base_url, api="retries = 3"), encoding="utf-8")
    lab.throttle(2)
    code, output = prov("server", "list", "-p", "aws", "-o", "json")
    assert code == 0, output
    assert document(output)["servers"] == []
    assert lab.requests == 3  # two refused, then one answered: each attempt made once


def test_throttling_past_the_retries_fails_naming_the_code(lab, workspace):
    workspace.write_text(lab_workspace(lab.base_url, api="retries = 1"), encoding="utf-8")
    lab.throttle(5)
    code, output = prov("server", "plans", "-p", "aws", "-o", "json")
    assert code == 1, output
    assert "RequestLimitExceeded" in output
    assert lab.requests == 2  # the first attempt and one retry
    assert "Traceback" not in output


def test_refused_credentials_are_exit_2_naming_the_setting(lab, workspace, monkeypatch):
    user_key, user_secret = lab.authenticate()  # from here on moto checks keys as AWS does
    code, output = prov("server", "list", "-p", "aws", "-o", "json")  # the lab's keys: unknown
    assert code == 2, output
    assert "AWS refused the credentials" in output
    assert "@ $.providers.aws.auth.api_key" in output
    assert "AWS_ACCESS_KEY_ID" in output  # the hint says where the key comes from
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", user_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", user_secret)
    code, output = prov("server", "list", "-p", "aws", "-o", "json")
    assert code == 0, output
    assert user_secret not in output


def test_test_connection_reports_refused_credentials_as_a_result(aws, lab):
    lab.authenticate()
    result = aws.call("test_connection")
    assert result.ok is False
    assert result.message.startswith("AWS refused the credentials\n")
    assert "InvalidClientTokenId" in result.message
    assert "@ $.providers.aws.auth.api_key" in result.message


def test_test_connection_names_the_account(aws):
    result = aws.call("test_connection")
    assert result.ok is True
    assert result.message.startswith("authenticated to AWS as arn:aws:sts::123456789012:")
    assert result.details["region"] == "us-east-1"


def test_an_api_key_without_its_secret_is_refused_before_any_request(aws, lab, settings):
    aws.settings = attrs.evolve(
        settings, auth=ProviderAuth(method="api_key", api_key=Secret(ACCESS_KEY))
    )
    with pytest.raises(ConfigError) as caught:
        aws.call("list_servers")
    assert caught.value.problems == [
        "auth.method api_key needs api_key and api_secret @ $.providers.aws.auth"
    ]
    assert lab.requests == 0


def test_the_profile_method_without_credentials_is_refused(aws, lab, settings):
    aws.settings = attrs.evolve(settings, auth=ProviderAuth(method="profile"))
    with pytest.raises(ConfigError) as caught:
        aws.call("list_servers")
    assert caught.value.problems[0].startswith(
        "no usable credentials from boto3's credential chain"
    )
    assert caught.value.problems[0].endswith("@ $.providers.aws.auth.method")
    assert lab.requests == 0


def test_the_profile_method_uses_the_standard_chain(aws, lab, settings, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "from-the-environment")
    aws.settings = attrs.evolve(settings, auth=ProviderAuth(method="profile"))
    assert aws.call("test_connection").ok is True


def test_an_unreachable_endpoint_is_transient_and_named(aws, settings):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    aws.settings = attrs.evolve(
        settings, api=attrs.evolve(settings.api, base_url=f"http://127.0.0.1:{port}", timeout=2.0)
    )
    with pytest.raises(TransientError) as caught:
        aws.call("get_zones")
    assert f"cannot reach http://127.0.0.1:{port}" in str(caught.value)
    assert "providers.aws.api.base_url" in str(caught.value)
    assert caught.value.status is None  # nothing was sent: safe to repeat


def test_a_request_sent_without_an_answer_is_never_repeated_as_a_create(aws, lab):
    """A read timeout may come after AWS launched the instance: its status keeps the core
    from repeating a mutating hook, while a refused connection may be repeated."""
    from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

    from provisioning_provider_aws.client import Aws

    client = Aws(aws.settings)
    sent = client._error(ReadTimeoutError(endpoint_url=lab.base_url), "ec2", "run_instances", {})
    assert isinstance(sent, TransientError)
    assert sent.status == 504
    assert "may or may not have taken effect" in sent.hint
    unsent = client._error(
        ConnectTimeoutError(endpoint_url=lab.base_url), "ec2", "run_instances", {}
    )
    assert isinstance(unsent, TransientError)
    assert unsent.status is None
