"""Local sandboxes created by a `prov` SIGKILLed at random points: the documented clean-up
(`prov server list`, then `prov server delete` what it lists, then `prov operations ack
--all`) leaves no process, no sandbox directory and no address claim behind."""

from __future__ import annotations

import importlib.util
import json
import random
import signal
import time
from pathlib import Path

import pytest

from provisioning_core.testing.lab import reap_sandboxes
from tests.cli.conftest import popen_prov
from tests.reliability.test_ssh_and_secrets import _children_of_home

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("provisioning_provider_local") is None,
    reason="needs provisioning-provider-local installed (nox -s reliability installs it)",
)

RUNS = 12
SEED = 8122026


def test_killed_local_creates_are_cleaned_up_leaving_nothing(
    prov, installed, prov_home, figures
) -> None:
    Path("provisioning.toml").write_text(
        '[operations]\nwait_interval = 0.05\n[providers.local.defaults]\nplan = "small"\n'
        'zone = "local"\n',
        encoding="utf-8",
    )
    from provisioning_provider_local.addresses import claims_dir

    rng = random.Random(SEED)
    killed = 0
    try:
        for i in range(RUNS):
            proc = popen_prov(installed, "server", "create", f"box-{i}", "-p", "local", "--wait")
            time.sleep(rng.uniform(0.2, 1.2))  # start-up, the sandbox being made, its daemon
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                killed += 1
            proc.communicate(timeout=30)
        # the documented clean-up
        listed = prov("server", "list", "-o", "json")
        assert listed.exit_code == 0, listed.stderr
        rows = listed.json()["servers"]
        assert [r for r in rows if r["where"] == "provider"] == [], "no orphaned sandbox"
        for row in rows:
            deleted = prov("server", "delete", row["id"] or row["hostname"], "-p", "local",
                           "--wait")  # fmt: skip
            assert deleted.exit_code == 0, deleted.output
        assert prov("operations", "ack", "--all").exit_code == 0
        servers = prov_home / "local" / "servers"
        left = sorted(p.name for p in servers.iterdir()) if servers.exists() else []
        claims = [
            json.loads(p.read_text())["sandbox_dir"]
            for p in claims_dir().iterdir()
            if p.is_file() and str(prov_home) in p.read_text()
        ]
        processes = _children_of_home(prov_home)
    finally:
        reap_sandboxes(prov_home)
    assert left == [], f"sandbox directories left: {left}"
    assert claims == [], f"address claims left: {claims}"
    assert processes == [], f"processes left: {processes}"
    figures(
        f"faults: {killed} of {RUNS} local creates SIGKILLed at random points (seed {SEED}); "
        f"after prov server list + delete + ack: {len(rows)} sandbox(es) found and deleted, "
        "0 processes, 0 directories, 0 address claims left"
    )
