"""``[taskservs.buildkit]``: the settings users may give, checked before any SSH.

The settings every release-tarball taskserv has (``api_url``, ``token``,
``sha256``, the directories...) and their checks are the core's
:class:`~provisioning_core.runtime.ReleaseSettings`; here are BuildKit's
defaults and its own settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from provisioning_core.runtime import ReleaseSettings, SettingKind, parse_release_settings

__all__ = ["KINDS", "Settings", "parse_settings"]


@attrs.frozen
class Settings(ReleaseSettings):
    """BuildKit's settings, with their defaults (README.md has the table).

    BuildKit's releases publish no checksum file, so ``checksums`` is empty
    and ``sha256`` (a digest, or a table of version = digest) must pin what to
    install.  ``tcp_port`` adds a TCP listener on ``tcp_address`` (real hosts)
    or the sandbox's own address (sandboxes).
    """

    repository: str = "moby/buildkit"
    asset: str = "buildkit-v{version}.linux-{arch}.tar.gz"
    checksums: str = ""
    install_dir: str = "/opt/buildkit"
    config_dir: str = "/etc/buildkit"
    data_dir: str = "/var/lib/buildkit"
    state_dir: str = "/run/buildkit"
    socket: str = "/run/buildkit/buildkitd.sock"
    containerd_socket: str = "/run/containerd/containerd.sock"
    containerd_namespace: str = "buildkit"
    tcp_port: int | None = None
    tcp_address: str = "127.0.0.1"
    debug: bool = False


#: how the settings BuildKit adds are checked
KINDS: dict[str, SettingKind] = {
    "state_dir": "path",
    "socket": "path",
    "containerd_socket": "path",
    "containerd_namespace": "str",
    "tcp_port": "port",
    "tcp_address": "str",
    "debug": "bool",
}


def parse_settings(raw: Mapping[str, Any]) -> Settings:
    """``raw`` (the table from the configuration) as :class:`Settings`.

    Every problem is reported at once, as "message @ taskservs.buildkit.key",
    in a :class:`~provisioning_core.ConfigError`.
    """
    return parse_release_settings(raw, Settings, name="buildkit", kinds=KINDS)
