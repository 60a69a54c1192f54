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

from provisioning_provider_local import procs

__all__ = ["reap"]


def reap(prov_home: str | os.PathLike[str]) -> list[int]:
    """Kill every process whose ``PROV_SANDBOX_ROOT`` lies under ``prov_home``; return their pids.

    That is every sandbox daemon, rc.d script, command and service of the
    local servers kept in ``prov_home`` (SIGTERM, then SIGKILL after a few
    seconds).
    """
    bases = {
        os.fsencode(os.path.abspath(prov_home)),  # noqa: PTH100 - as recorded, symlinks kept
        os.fsencode(Path(prov_home).resolve()),
    }

    def under(env: procs.Environ) -> bool:
        root = env.get(b"PROV_SANDBOX_ROOT")
        if root is None:
            return False
        spellings = (root, os.path.realpath(root))  # recorded through a symlink, maybe
        return any(r.startswith(base + b"/") for r in spellings for base in bases)

    return procs.terminate(under)
