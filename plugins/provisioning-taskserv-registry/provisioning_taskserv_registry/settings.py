"""``[taskservs.registry]``: the settings users may give, checked before any SSH.

The settings every release-tarball taskserv has (``api_url``, ``token``,
``sha256``, the directories...) and their checks are the core's
:class:`~provisioning_core.runtime.ReleaseSettings`; here are the registry's
defaults and its own settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from provisioning_core.runtime import ReleaseSettings, SettingKind, parse_release_settings

__all__ = ["KINDS", "LOG_LEVELS", "Settings", "parse_settings"]

LOG_LEVELS = ("debug", "info", "warn", "error")


@attrs.frozen
class Settings(ReleaseSettings):
    """The registry's settings, with their defaults (README.md has the table).

    ``address`` is used on real hosts only: in a local sandbox the registry
    binds to the sandbox's own address.
    """

    repository: str = "distribution/distribution"
    asset: str = "registry_{version}_linux_{arch}.tar.gz"
    checksums: str = "registry_{version}_checksums.txt"
    install_dir: str = "/opt/registry"
    config_dir: str = "/etc/distribution"
    data_dir: str = "/var/lib/registry"
    address: str = "0.0.0.0"  # noqa: S104 - a registry serves the network it is on
    port: int = 5000
    log_level: str = "info"
    delete_enabled: bool = False


#: how the settings the registry adds are checked
KINDS: dict[str, SettingKind] = {
    "address": "str",
    "port": "port",
    "log_level": LOG_LEVELS,
    "delete_enabled": "bool",
}


def parse_settings(raw: Mapping[str, Any]) -> Settings:
    """``raw`` (the table from the configuration) as :class:`Settings`.

    Every problem is reported at once, as "message @ taskservs.registry.key",
    in a :class:`~provisioning_core.ConfigError`.
    """
    return parse_release_settings(raw, Settings, name="registry", kinds=KINDS)
