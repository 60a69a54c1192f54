"""``[taskservs.buildkit]``: the settings users may give, checked before any SSH."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from provisioning_core import ConfigError, Secret

__all__ = ["Settings", "parse_settings"]

TABLE = "taskservs.buildkit"
_MAX_PORT = 65535


@attrs.frozen
class Settings:
    """BuildKit's settings, with their defaults (README.md has the table).

    ``asset`` and ``checksums`` are formatted with ``{version}`` and
    ``{arch}``.  BuildKit's releases publish no checksum file, so
    ``checksums`` is empty and ``sha256`` (a digest, or a table of version =
    digest) must pin what to install.  ``tcp_port`` adds a TCP listener on
    ``tcp_address`` (real hosts) or the sandbox's own address (sandboxes).
    """

    repository: str = "moby/buildkit"
    api_url: str = "https://api.github.com"
    download_url: str = "https://github.com"
    token: Secret | None = None
    sha256: str | dict[str, str] | None = None
    asset: str = "buildkit-v{version}.linux-{arch}.tar.gz"
    checksums: str = ""
    install_dir: str = "/opt/buildkit"
    bin_dir: str = "/usr/local/bin"
    config_dir: str = "/etc/buildkit"
    data_dir: str = "/var/lib/buildkit"
    state_dir: str = "/run/buildkit"
    socket: str = "/run/buildkit/buildkitd.sock"
    containerd_socket: str = "/run/containerd/containerd.sock"
    containerd_namespace: str = "buildkit"
    tcp_port: int | None = None
    tcp_address: str = "127.0.0.1"
    debug: bool = False
    health_retries: int = 10
    health_interval: float = 1.0


_PATHS = (
    "install_dir",
    "bin_dir",
    "config_dir",
    "data_dir",
    "state_dir",
    "socket",
    "containerd_socket",
)
_KINDS: dict[str, str] = {
    "repository": "str",
    "api_url": "url",
    "download_url": "url",
    "token": "secret",
    "sha256": "digests",
    "asset": "str",
    "checksums": "name",  # may be empty: no checksum asset
    "containerd_namespace": "str",
    "tcp_port": "port",
    "tcp_address": "str",
    "debug": "bool",
    "health_retries": "int",
    "health_interval": "float",
    **dict.fromkeys(_PATHS, "path"),
}


def parse_settings(raw: Mapping[str, Any]) -> Settings:
    """``raw`` (the table from the configuration) as :class:`Settings`.

    Every problem is reported at once, as "message @ taskservs.buildkit.key",
    in a :class:`ConfigError`.
    """
    problems: list[str] = []
    values: dict[str, Any] = {}
    for key, value in raw.items():
        where = f"{TABLE}.{key}"
        kind = _KINDS.get(key)
        if kind is None:
            problems.append(f"unknown setting (known: {', '.join(_KINDS)}) @ {where}")
            continue
        problem = _problem(kind, value)
        if problem:
            problems.append(f"{problem} @ {where}")
        elif value is not None:
            values[key] = Secret(value) if kind == "secret" else value
    if problems:
        raise ConfigError(
            "invalid settings for taskserv buildkit",
            problems=problems,
            hint=f"fix [{TABLE}] in your configuration (prov config show displays it)",
        )
    return Settings(**values)


def _problem(kind: str, value: Any) -> str | None:
    name = type(value).__name__
    if kind in {"str", "name", "path", "url"}:
        return _text_problem(kind, value)
    if kind == "bool":
        return None if isinstance(value, bool) else f"expected true or false, got {name}"
    if kind == "secret":
        return None if isinstance(value, (str, Secret)) else f"expected a string, got {name}"
    if kind == "digests":
        if isinstance(value, str) or (
            isinstance(value, Mapping) and all(isinstance(v, str) for v in value.values())
        ):
            return None
        return f"expected a sha256 digest or a table of version = digest, got {name}"
    return _number_problem(kind, value)


def _text_problem(kind: str, value: Any) -> str | None:
    if not isinstance(value, str):
        return f"expected a string, got {type(value).__name__}"
    if not value and kind != "name":
        return "expected a non-empty string"
    if kind == "path" and not value.startswith("/"):
        return f"expected an absolute path, got {value!r}"
    if kind == "url" and not value.startswith(("http://", "https://")):
        return f"expected an http(s) URL, got {value!r}"
    return None


def _number_problem(kind: str, value: Any) -> str | None:
    name = type(value).__name__
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"expected a number, got {name}"
    if kind == "float":
        return None if value > 0 else f"expected a number above 0, got {value}"
    if not isinstance(value, int):
        return f"expected an integer, got {name}"
    if kind == "port" and not 1 <= value <= _MAX_PORT:
        return f"invalid port {value}: expected 1-65535"
    return None if value >= 1 else f"expected 1 or more, got {value}"
