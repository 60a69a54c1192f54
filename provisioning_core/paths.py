"""Where the tool keeps its files.

``PROV_HOME`` moves everything (inventory, caches, registrations, local
servers) to one directory; tests set it for isolation.  Without it the
platform's user data directory is used.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "download_cache_dir",
    "extension_cache_dir",
    "extensions_dir",
    "inventory_path",
    "prov_home",
    "use_extension_cache_dir",
]

# the configured [orchestrator.extensions] cache_dir, when `prov` set one for
# this process (None: the default, under PROV_HOME)
_cache_dir: Path | None = None


def prov_home() -> Path:
    """The root of all state: ``$PROV_HOME`` or the platform's user data dir."""
    env = os.environ.get("PROV_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs  # only needed when PROV_HOME is unset

    return platformdirs.user_data_path("provisioning", appauthor=False)


def extensions_dir() -> Path:
    """Where extension registrations live (and, by default, the extension caches)."""
    return prov_home() / "extensions"


def use_extension_cache_dir(path: Path | None) -> None:
    """Make ``path`` this process's extension cache directory (None: the default).

    ``prov`` calls it with ``[orchestrator.extensions] cache_dir`` when that
    is not the default, so that every cache of the process lives there.
    """
    global _cache_dir  # noqa: PLW0603 - one setting for the whole process, set by the CLI
    _cache_dir = None if path is None or path == extensions_dir() else path


def extension_cache_dir() -> Path:
    """Where the scan cache, the loaded-extension records and artifacts live.

    ``[orchestrator.extensions] cache_dir`` as ``prov`` set it, else
    ``$PROV_HOME/extensions`` (that setting's default).
    """
    return _cache_dir if _cache_dir is not None else extensions_dir()


def download_cache_dir() -> Path:
    """Where verified downloads (release artifacts) are kept.

    ``<cache_dir>/downloads`` when a cache directory was configured, else
    ``$PROV_HOME/cache/downloads``, where they always were.
    """
    return (
        _cache_dir / "downloads" if _cache_dir is not None else prov_home() / "cache" / "downloads"
    )


def inventory_path() -> Path:
    """Where the inventory (SQLite) lives."""
    return prov_home() / "inventory.sqlite3"
