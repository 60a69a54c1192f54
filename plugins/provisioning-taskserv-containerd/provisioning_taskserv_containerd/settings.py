"""``[taskservs.containerd]``: the settings users may give, checked before any SSH.

The settings every release-tarball taskserv has (``api_url``, ``token``,
``sha256``, the directories...) and their checks are the core's
:class:`~provisioning_core.runtime.ReleaseSettings`; here are containerd's
defaults and its own settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from provisioning_core.runtime import ReleaseSettings, SettingKind, parse_release_settings

__all__ = ["KINDS", "LOG_LEVELS", "Settings", "parse_settings"]

LOG_LEVELS = ("trace", "debug", "info", "warn", "error", "fatal", "panic")


@attrs.frozen
class Settings(ReleaseSettings):
    """containerd's settings, with their defaults (README.md has the table).

    ``metrics_address`` is used on real hosts only: in a local sandbox every
    listener binds to the sandbox's own address.
    """

    repository: str = "containerd/containerd"
    asset: str = "containerd-{version}-linux-{arch}.tar.gz"
    checksums: str = "containerd-{version}-linux-{arch}.tar.gz.sha256sum"
    install_dir: str = "/opt/containerd"
    config_dir: str = "/etc/containerd"
    data_dir: str = "/var/lib/containerd"
    state_dir: str = "/run/containerd"
    socket: str = "/run/containerd/containerd.sock"
    log_level: str = "info"
    metrics_port: int | None = None
    metrics_address: str = "127.0.0.1"


#: how the settings containerd adds are checked
KINDS: dict[str, SettingKind] = {
    "state_dir": "path",
    "socket": "path",
    "log_level": LOG_LEVELS,
    "metrics_port": "port",
    "metrics_address": "str",
}


def parse_settings(raw: Mapping[str, Any]) -> Settings:
    """``raw`` (the table from the configuration) as :class:`Settings`.

    Every problem is reported at once, as "message @ taskservs.containerd.key",
    in a :class:`~provisioning_core.ConfigError`.
    """
    return parse_release_settings(raw, Settings, name="containerd", kinds=KINDS)
