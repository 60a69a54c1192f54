"""Help for tests that create local servers (this plugin's and other plugins').

Call :func:`reap` in a finalizer with the test's ``PROV_HOME`` so that no
sandbox process outlives the test, whatever the test did::

    @pytest.fixture(autouse=True)
    def _no_leftovers(tmp_path, monkeypatch):
        monkeypatch.setenv("PROV_HOME", str(tmp_path / "prov-home"))
        yield
        reap(tmp_path / "prov-home")
"""

from __future__ import annotations

import os
from pathlib import Path

from provisioning_core.testing import reap_sandboxes

from provisioning_provider_local.addresses import release_under

__all__ = ["reap"]


def reap(prov_home: str | os.PathLike[str]) -> list[int]:
    """Kill every process whose ``PROV_SANDBOX_ROOT`` lies under ``prov_home``; return their pids.

    That is every sandbox daemon, rc.d script, command and service of the
    local servers kept in ``prov_home`` (SIGTERM, then SIGKILL after a few
    seconds): the core's :func:`provisioning_core.testing.reap_sandboxes`,
    under the name this plugin's tests have always used.  The address claims
    of those sandboxes are released too: their directories outlive the test
    (pytest keeps its last temporary directories), and the machine-wide claims
    would otherwise hold the addresses until they are removed.
    """
    pids = reap_sandboxes(prov_home)
    release_under(Path(prov_home))
    return pids
