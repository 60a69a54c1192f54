"""Where the tool keeps its files.

``PROV_HOME`` moves everything (inventory, caches, registrations, local
servers) to one directory; tests set it for isolation.  Without it the
platform's user data directory is used.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["extensions_dir", "inventory_path", "prov_home"]


def prov_home() -> Path:
    """The root of all state: ``$PROV_HOME`` or the platform's user data dir."""
    env = os.environ.get("PROV_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs  # only needed when PROV_HOME is unset

    return platformdirs.user_data_path("provisioning", appauthor=False)


def extensions_dir() -> Path:
    """Where extension registrations and the discovery scan cache live."""
    return prov_home() / "extensions"


def inventory_path() -> Path:
    """Where the inventory (SQLite) lives."""
    return prov_home() / "inventory.sqlite3"
