"""provisioning_provider_local.testing.reap, for other plugins' test finalizers."""

from __future__ import annotations

from local_support import sandbox_pids, ssh_run

from provisioning_provider_local import procs
from provisioning_provider_local.testing import reap


def test_reap_kills_every_process_of_the_sandboxes_under_a_home(local, prov_home, tmp_path):
    server = local.create("web-1")
    sleeper = int(ssh_run(local.access(server.id), "sleep 300 & echo $!").stdout)
    running = set(sandbox_pids(prov_home))
    assert sleeper in running
    assert reap(tmp_path / "elsewhere") == []  # another home: none of its business
    assert procs.alive(sleeper)
    assert set(reap(prov_home)) == running
    assert not procs.alive(sleeper)
    assert sandbox_pids(prov_home) == []
    assert local.info(server.id).status.value == "error"  # died without being stopped
