"""Real sandboxes of the local provider: an SSH daemon killed under a running command, and a
canary secret sent through every way it could leak (output at every verbosity, logs, plugin
exceptions, files under PROV_HOME, the environment of every child process)."""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from provisioning_core.errors import ProvisioningError
from provisioning_core.runtime.host import connect
from provisioning_core.testing.lab import Lab, reap_sandboxes, sandbox_processes
from provisioning_core.testing.mirror import ArtifactMirror
from tests.cli.conftest import FAST, process_env

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("provisioning_provider_local") is None
    or importlib.util.find_spec("provisioning_taskserv_my_service") is None,
    reason="needs provisioning-provider-local and provisioning-taskserv-my-service installed "
    "(nox -s reliability installs them)",
)


@pytest.fixture
def lab(prov_home: Path) -> object:
    with ArtifactMirror() as mirror:
        yield Lab(prov_home, Path.cwd(), mirror)
    reap_sandboxes(prov_home)


def test_an_ssh_daemon_killed_under_a_command_is_a_named_error_in_time(lab, figures) -> None:
    box = lab.create("web-1")
    [daemon] = [pid for pid, cmd in sandbox_processes(box.root) if "daemon" in cmd]
    outcome: list[object] = []

    def long_command() -> None:
        started = time.monotonic()
        with connect(box.server, box.ssh) as host:
            try:
                host.run("sleep 30", timeout=25)
            except ProvisioningError as exc:
                outcome.append((exc, time.monotonic() - started))
            else:
                outcome.append((None, time.monotonic() - started))

    worker = threading.Thread(target=long_command)
    worker.start()
    time.sleep(1.0)  # the command runs
    os.kill(daemon, signal.SIGKILL)
    worker.join(40)
    assert not worker.is_alive()
    [(error, seconds)] = outcome
    assert isinstance(error, ProvisioningError), "the lost connection is an error"
    assert "the connection was lost while running 'sleep 30'" in str(error)
    assert "web-1" in str(error) or box.ssh.host in str(error)
    assert seconds < 25, f"named within the command's timeout, not after it ({seconds:.1f} s)"
    figures(f"faults: SSH daemon SIGKILLed under a command: named error after {seconds:.1f} s")


def _environ(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return b""


def _children_of_home(home: Path) -> list[int]:
    mark = b"PROV_SANDBOX_ROOT=" + os.fsencode(str(home))
    return [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and mark in _environ(int(entry.name))
    ]


def test_a_canary_secret_never_leaks(installed, prov_home, figures) -> None:
    canary = "canary-" + secrets.token_hex(12)
    env = {"REC_CANARY_TOKEN": canary}
    Path("provisioning.toml").write_text(
        FAST
        + '\n[providers.recording.auth]\ntoken = "${REC_CANARY_TOKEN}"\n'
        + '[providers.recording.options]\nexpected_token = "${REC_CANARY_TOKEN}"\n'
        + 'raise_in = ["get_pricing"]\napi_secret = "${REC_CANARY_TOKEN}"\n'
        + '[providers.local.defaults]\nplan = "small"\nzone = "local"\n'
        + '[providers.local.auth]\ntoken = "${REC_CANARY_TOKEN}"\n',
        encoding="utf-8",
    )
    commands = [
        ("server", "create", "web", "-p", "recording", "--plan", "small", "--zone", "test-1"),
        ("server", "pricing", "-p", "recording"),  # the plugin's exception carries the token
        ("server", "list"),
        ("provider", "info", "recording"),
        ("provider", "test", "recording"),
        ("config", "show"),
        ("server", "create", "box", "-p", "local", "--wait"),  # a sandbox: its daemon's env
        # a supervised service in it, started over SSH: its environment too
        ("taskserv", "install", "my-service", "--server", "box", "--wait"),
        ("operations", "list"),
    ]
    variants = [(), ("-vv",), ("--debug",)]
    outputs: list[str] = []
    runs = 0
    try:
        for args in commands:
            for flags in variants:
                for extra in ({}, {"PROV_DEBUG": "1"}):
                    if args[-1] == "--wait" and (flags or extra):
                        continue  # one sandbox (and one service in it) is enough
                    result = subprocess.run(
                        [sys.executable, "-m", "provisioning_core", *flags, *args, "-o", "json"]
                        if args[0] in {"server", "provider", "operations", "taskserv"}
                        else [sys.executable, "-m", "provisioning_core", *flags, *args],
                        env=process_env(installed, {**env, **extra}),
                        capture_output=True,
                        text=True,
                        timeout=120,
                        check=False,
                    )
                    runs += 1
                    outputs += [result.stdout, result.stderr]
        leaks = [text for text in outputs if canary in text]
        assert leaks == [], leaks[:2]
        assert any("********" in text for text in outputs), "the echoed token was masked"
        files = [p for p in prov_home.rglob("*") if p.is_file()]
        leaked_files = [p for p in files if canary.encode() in p.read_bytes()]
        assert leaked_files == []
        children = _children_of_home(prov_home)
        assert len(children) >= 2, "the sandbox's daemon and my-service run"
        leaked_env = [pid for pid in children if canary.encode() in _environ(pid)]
        assert leaked_env == [], f"processes whose environment holds the canary: {leaked_env}"
        listed = json.loads(
            subprocess.run(
                [sys.executable, "-m", "provisioning_core", "server", "list", "-o", "json"],
                env=process_env(installed, env),
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
            ).stdout
        )
        assert {r["hostname"] for r in listed["servers"]} >= {"web", "box"}
    finally:
        subprocess.run(
            [sys.executable, "-m", "provisioning_core", "server", "delete", "box", "--wait"],
            env=process_env(installed, env),
            capture_output=True,
            timeout=120,
            check=False,
        )
        reap_sandboxes(prov_home)
    figures(
        f"secrets: a canary through ${{ENV}} in {runs} runs (-vv, --debug, PROV_DEBUG=1, a plugin "
        f"exception echoing it): 0 in output, 0 in {len(files)} files under PROV_HOME, 0 in the "
        f"environment of {len(children)} sandbox process(es)"
    )
