"""A credential goes into the Authorization header and nowhere else: not the CLI's output
(even with --debug), the logs, the inventory under PROV_HOME, nor exception text, even when
UpCloud echoes it back in an error message."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import attrs
import pytest
from provisioning_core import ProviderAuth, ProvisioningError, Secret
from upcloud_support import PASSWORD, TOKEN, USERNAME, prov, workspace_toml

BASIC = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
SECRET = {"token": TOKEN, "password": PASSWORD}


def leaks(text: str) -> list[str]:
    return [s for s in (TOKEN, PASSWORD, BASIC) if s in text]


def files_holding_a_secret(home: Path) -> list[str]:
    found = []
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path}: {s}" for s in (TOKEN, PASSWORD, BASIC) if s.encode() in data]
    return found


def echo_credentials(emulator, mode: str) -> None:
    """UpCloud answering an error that repeats what it was sent: the worst case."""
    sent = f"Bearer {TOKEN}" if mode == "token" else f"Basic {BASIC} ({USERNAME}:{PASSWORD})"
    emulator.fail(
        400,
        code="INVALID_REQUEST",
        message=f"bad request from {sent}",
        method="POST",
        path="^/server$",
    )


def run_everything(server: str = "web-1") -> str:
    outputs = []
    for args in (
        ("server", "create", "bad-1", "-p", "upcloud"),  # refused: the error echoes the secret
        ("server", "create", server, "-p", "upcloud", "--check"),
        ("server", "create", server, "-p", "upcloud", "--wait"),
        ("server", "list", "-p", "upcloud"),
        ("server", "info", server),
        ("server", "firewall", server, "--rule", "in,tcp,22,accept"),
        ("server", "ssh", server, "--print"),
        ("server", "stop", server, "--wait"),
        ("server", "delete", server, "--wait"),
        ("server", "info", server),  # deleted: an error
        ("config", "show"),
    ):
        for output_format in ("json", "table"):
            extra = () if args[0] == "config" or args[1] == "ssh" else ("-o", output_format)
            code, output = prov("--debug", "-vv", *args, *extra)
            outputs.append(f"$ prov {' '.join(args)} -> {code}\n{output}")
            if args[1] in {"create", "delete", "stop", "firewall"}:
                break  # change once
    return "\n".join(outputs)


@pytest.mark.parametrize("mode", ["token", "password"])
def test_credentials_stay_in_the_authorization_header(
    mode, emulator, monkeypatch, prov_home, caplog
):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("UPCLOUD_TOKEN" if mode == "token" else "UPCLOUD_PASSWORD", SECRET[mode])
    auth = (
        'token = "${UPCLOUD_TOKEN}"'
        if mode == "token"
        else f'username = "{USERNAME}"\npassword = "${{UPCLOUD_PASSWORD}}"'
    )
    Path("provisioning.toml").write_text(
        workspace_toml(emulator.base_url, auth=auth), encoding="utf-8"
    )
    echo_credentials(emulator, mode)
    transcript = run_everything()
    assert "INVALID_REQUEST: bad request from " in transcript  # the error was shown
    assert "********" in transcript
    assert "$ prov server delete web-1 --wait -> 0" in transcript
    assert leaks(transcript) == [], transcript
    assert leaks(caplog.text) == []
    assert (prov_home / "inventory.sqlite3").stat().st_size > 0, "the inventory was written"
    assert files_holding_a_secret(prov_home) == []
    # ...while every request carried it, exactly, in its Authorization header
    scheme = "bearer" if mode == "token" else "basic"
    assert {(r.auth, r.authenticated) for r in emulator.requests} == {(scheme, True)}


@pytest.mark.parametrize("mode", ["token", "password"])
def test_exceptions_never_hold_a_credential(mode, upcloud, settings, emulator):
    if mode == "password":
        settings = attrs.evolve(
            settings, auth=ProviderAuth(username=USERNAME, password=Secret(PASSWORD))
        )
    echo_credentials(emulator, mode)
    with pytest.raises(ProvisioningError) as caught:
        upcloud.call("create_server", settings=settings, config=_config(), check=False)
    error = caught.value
    text = "\n".join(
        [str(error), repr(error), repr(error.args), str(error.hint), str(error.detail)]
        + [repr(e) for e in (error.__cause__, error.__context__) if e is not None]
    )
    assert "INVALID_REQUEST" in text
    assert leaks(text) == []
    assert error.__cause__ is None
    assert error.__suppress_context__


def _config():
    from provisioning_core import ServerConfig

    return ServerConfig(hostname="web-1", plan="1xCPU-1GB", zone="fi-hel1", os="ubuntu-24.04")
