"""How provisioning-core's conformance suite runs against the ``local`` provider.

``Conformance`` is registered under the ``provisioning.conformance`` entry
point, so ``prov plugin test local`` runs it; tests/test_conformance.py runs
it with pytest.  The backend is this machine: every server is a sandbox under
the test's own ``PROV_HOME``, so the suite needs no settings at all, and the
picture of the backend is the provider's state directory and the processes
of its sandboxes (check mode must change neither).

This module imports pytest: the hooks never import it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from provisioning_core.testing import ProviderConformance, sandbox_processes, sandbox_tree

from provisioning_provider_local.store import all_sandboxes, local_dir

__all__ = ["Conformance", "backend_picture"]


def backend_picture() -> dict[str, Any]:
    """Every file of the provider's state directory and every process of its sandboxes."""
    base = local_dir()
    return {
        "files": sandbox_tree(base) if base.is_dir() else None,
        "processes": {
            sandbox.id: sorted(sandbox_processes(sandbox.root)) for sandbox, _ in all_sandboxes()
        },
    }


class Conformance(ProviderConformance):
    """The provider contract, on sandboxes of this machine."""

    provider = "local"
    plan = "small"
    zone = "local"
    # a sandbox starts in well under a second; a minute means something is wrong
    timeout = 60.0
    poll_interval = 0.05
    # well formed (store.new_id's shape), so the lookup itself is tested, and never issued
    missing_id = "local-00000000"

    @pytest.fixture
    def backend_snapshot(self, prov_home: Path) -> Callable[[], Any]:  # noqa: ARG002 - isolation first
        return backend_picture
