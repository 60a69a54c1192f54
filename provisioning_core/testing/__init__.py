"""Helpers for testing plugins against real local peers.

:class:`ArtifactMirror` serves GitHub-shaped releases and their assets on
127.0.0.1; :func:`tarball` and :func:`sha256sums` build the release assets.
Nothing here imports pytest, so these work under any test runner.

Names are imported on first use (PEP 562): importing this package costs
nothing until a helper is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from provisioning_core.testing.mirror import ArtifactMirror, MirrorRelease, sha256sums, tarball

_WHERE: dict[str, str] = {
    "ArtifactMirror": "provisioning_core.testing.mirror",
    "MirrorRelease": "provisioning_core.testing.mirror",
    "sha256sums": "provisioning_core.testing.mirror",
    "tarball": "provisioning_core.testing.mirror",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'provisioning_core.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = ["ArtifactMirror", "MirrorRelease", "sha256sums", "tarball"]
