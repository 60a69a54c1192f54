"""``[taskservs.containerd]``: the settings users may give, checked before any SSH."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from provisioning_core import ConfigError, Secret

__all__ = ["LOG_LEVELS", "Settings", "parse_settings"]

TABLE = "taskservs.containerd"
LOG_LEVELS = ("trace", "debug", "info", "warn", "error", "fatal", "panic")
_MAX_PORT = 65535


@attrs.frozen
class Settings:
    """containerd's settings, with their defaults (README.md has the table).

    ``asset`` and ``checksums`` are formatted with ``{version}`` and
    ``{arch}``; ``checksums`` empty means the release has no checksum asset,
    so ``sha256`` (a digest, or a table of version = digest) must pin one.
    ``metrics_address`` is used on real hosts only: in a local sandbox every
    listener binds to the sandbox's own address.
    """

    repository: str = "containerd/containerd"
    api_url: str = "https://api.github.com"
    download_url: str = "https://github.com"
    token: Secret | None = None
    sha256: str | dict[str, str] | None = None
    asset: str = "containerd-{version}-linux-{arch}.tar.gz"
    checksums: str = "containerd-{version}-linux-{arch}.tar.gz.sha256sum"
    install_dir: str = "/opt/containerd"
    bin_dir: str = "/usr/local/bin"
    config_dir: str = "/etc/containerd"
    data_dir: str = "/var/lib/containerd"
    state_dir: str = "/run/containerd"
    socket: str = "/run/containerd/containerd.sock"
    log_level: str = "info"
    metrics_port: int | None = None
    metrics_address: str = "127.0.0.1"
    health_retries: int = 10
    health_interval: float = 1.0


_PATHS = ("install_dir", "bin_dir", "config_dir", "data_dir", "state_dir", "socket")
_KINDS: dict[str, str] = {
    "repository": "str",
    "api_url": "url",
    "download_url": "url",
    "token": "secret",
    "sha256": "digests",
    "asset": "str",
    "checksums": "name",  # may be empty: no checksum asset
    "log_level": "str",
    "metrics_port": "port",
    "metrics_address": "str",
    "health_retries": "int",
    "health_interval": "float",
    **dict.fromkeys(_PATHS, "path"),
}


def parse_settings(raw: Mapping[str, Any]) -> Settings:
    """``raw`` (the table from the configuration) as :class:`Settings`.

    Every problem is reported at once, as "message @ taskservs.containerd.key",
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
    level = values.get("log_level")
    if level is not None and level not in LOG_LEVELS:
        problems.append(
            f"invalid log level {level!r}: expected one of {', '.join(LOG_LEVELS)} "
            f"@ {TABLE}.log_level"
        )
    if problems:
        raise ConfigError(
            "invalid settings for taskserv containerd",
            problems=problems,
            hint=f"fix [{TABLE}] in your configuration (prov config show displays it)",
        )
    return Settings(**values)


def _problem(kind: str, value: Any) -> str | None:
    name = type(value).__name__
    if kind in {"str", "name", "path", "url"}:
        return _text_problem(kind, value)
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
