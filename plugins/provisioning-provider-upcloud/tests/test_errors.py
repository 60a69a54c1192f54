"""UpCloud's errors as the core's: not found, transient (429, 5xx, illegal state), and the rest
with UpCloud's code, message and a hint."""

from __future__ import annotations

import socket

import attrs
import pytest
from provisioning_core import (
    ProviderApi,
    ProviderAuth,
    ProvisioningError,
    Secret,
    ServerNotFound,
    TransientError,
)


def test_429_is_transient_with_the_retry_after_it_asked_for(upcloud, emulator):
    emulator.throttle(1, retry_after=7)
    with pytest.raises(TransientError) as caught:
        upcloud.call("get_plans")
    error = caught.value
    assert (error.status, error.retry_after) == (429, 7.0)
    assert "UpCloud: list plans failed: TOO_MANY_REQUESTS: Too many requests, slow down." in str(
        error
    )
    assert upcloud.call("get_plans")  # the next one gets through


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_transient(upcloud, emulator, status):
    emulator.fail(status, message="backend on fire", method="GET", path="^/zone$")
    with pytest.raises(TransientError) as caught:
        upcloud.call("get_zones")
    assert caught.value.status == status
    assert "SERVICE_UNAVAILABLE: backend on fire" in str(caught.value)


def test_5xx_on_a_change_keeps_its_status_so_the_core_does_not_repeat_it(upcloud, emulator):
    emulator.fail(503, method="POST", path="^/server$")
    with pytest.raises(TransientError) as caught:
        upcloud.create()
    # the core retries a mutating hook after a 5xx only when no status is given
    assert caught.value.status == 503
    assert "create server web-1 failed" in str(caught.value)


def test_server_state_illegal_is_transient_and_safe_to_repeat(upcloud, emulator):
    server = upcloud.create()
    upcloud.wait(server.id, "running")
    emulator.illegal_state(1, path=r"/stop$")
    with pytest.raises(TransientError) as caught:
        upcloud.call("stop_server", server_id=server.id)
    error = caught.value
    assert error.status is None  # refused before acting: the core may repeat it
    assert f"UpCloud: stop server of server {server.id} failed: SERVER_STATE_ILLEGAL" in str(error)
    assert "hint:" in str(error)


def test_other_api_errors_name_the_operation_code_message_and_a_hint(upcloud, emulator):
    emulator.fail(
        402,
        code="INSUFFICIENT_CREDITS",
        message="You do not have enough credits to perform the requested action.",
        method="POST",
        path="^/server$",
    )
    with pytest.raises(ProvisioningError) as caught:
        upcloud.create()
    error = caught.value
    assert not isinstance(error, TransientError)
    assert str(error) == (
        "UpCloud: create server web-1 failed: INSUFFICIENT_CREDITS: You do not have enough "
        "credits to perform the requested action.\n  hint: add credits to the UpCloud account"
    )


def test_server_not_found_carries_the_id(upcloud):
    with pytest.raises(ServerNotFound) as caught:
        upcloud.call("stop_server", server_id="0099")
    assert (caught.value.server_id, caught.value.provider) == ("0099", "upcloud")


def test_refused_credentials_are_an_error_that_says_what_to_do(upcloud, settings):
    wrong = attrs.evolve(settings, auth=ProviderAuth(token=Secret("not-the-token")))
    with pytest.raises(ProvisioningError) as caught:
        upcloud.call("list_servers", settings=wrong)
    error = caught.value
    assert not isinstance(error, TransientError)
    assert "list servers failed: AUTHENTICATION_FAILED" in str(error)
    assert "check [providers.upcloud.auth]" in str(error)
    assert "not-the-token" not in str(error)


def test_missing_credentials_are_a_config_error(upcloud, settings):
    with pytest.raises(ProvisioningError) as caught:
        upcloud.call("get_zones", settings=attrs.evolve(settings, auth=ProviderAuth()))
    assert caught.value.exit_code == 2
    assert "no UpCloud credentials" in str(caught.value)


def test_an_unreachable_endpoint_is_transient_for_reads_and_writes(upcloud, settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    gone = attrs.evolve(settings, api=ProviderApi(base_url=f"http://127.0.0.1:{port}/1.3"))
    with pytest.raises(TransientError, match=f"cannot reach http://127.0.0.1:{port}/1.3"):
        upcloud.call("get_zones", settings=gone)
    # connection refused: the request never left, so repeating a change is safe too
    with pytest.raises(TransientError):
        upcloud.call("start_server", settings=gone, server_id="0099")


def test_a_timeout_on_a_change_is_not_repeated(upcloud, settings, emulator):
    import threading

    # a server that accepts the connection and never answers
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        accepted = []
        thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True)
        thread.start()
        slow = attrs.evolve(
            settings, api=ProviderApi(base_url=f"http://127.0.0.1:{port}/1.3", timeout=0.3)
        )
        from provisioning_provider_upcloud.client import UpCloud

        with pytest.raises(ProvisioningError) as caught:
            UpCloud(slow).stop("0099")
        thread.join(5)
        for conn in accepted:
            conn.close()
    assert not isinstance(caught.value, TransientError)
    assert "may or may not have taken effect" in str(caught.value)
