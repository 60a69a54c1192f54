"""``[taskservs.my-service]``: the settings users may give, checked before any SSH."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from provisioning_core import ConfigError

__all__ = ["LOG_LEVELS", "Settings", "parse_settings"]

LOG_LEVELS = ("debug", "info", "warning", "error")
_TABLE = "taskservs.my-service"
_MAX_PORT = 65535


@attrs.frozen
class Settings:
    """my-service's settings, with their defaults.

    ``listen`` None means the server's own address in a local sandbox (so each
    sandbox keeps its ports to itself) and ``0.0.0.0`` on a real host.
    ``python`` None means ``$PROV_PYTHON`` (sandboxes) or ``python3`` on the host.
    """

    port: int = 8080
    metrics_port: int = 9090
    listen: str | None = None
    greeting: str = "Hello from my-service!"
    log_level: str = "info"
    python: str | None = None


_FIELDS = {a.name: a for a in attrs.fields(Settings)}
_TYPES: dict[str, type] = {
    "port": int,
    "metrics_port": int,
    "listen": str,
    "greeting": str,
    "log_level": str,
    "python": str,
}


def parse_settings(raw: Mapping[str, Any]) -> Settings:
    """``raw`` (the table from the configuration) as :class:`Settings`.

    Every problem is reported at once, as "message @ taskservs.my-service.key",
    in a :class:`ConfigError`.
    """
    problems: list[str] = []
    values: dict[str, Any] = {}
    for key, value in raw.items():
        where = f"{_TABLE}.{key}"
        if key not in _FIELDS:
            problems.append(f"unknown setting (known: {', '.join(_FIELDS)}) @ {where}")
            continue
        wanted = _TYPES[key]
        # bool is an int to Python; a port of `true` is a mistake all the same
        if not isinstance(value, wanted) or isinstance(value, bool):
            problems.append(f"expected {wanted.__name__}, got {type(value).__name__} @ {where}")
            continue
        values[key] = value
    for key in ("port", "metrics_port"):
        port = values.get(key)
        if port is not None and not 1 <= port <= _MAX_PORT:
            problems.append(f"invalid port {port}: expected 1-65535 @ {_TABLE}.{key}")
    level = values.get("log_level")
    if level is not None and level not in LOG_LEVELS:
        problems.append(
            f"invalid log level {level!r}: expected one of {', '.join(LOG_LEVELS)} "
            f"@ {_TABLE}.log_level"
        )
    if not problems:
        settings = Settings(**values)
        if settings.port == settings.metrics_port:
            problems.append(
                f"port and metrics_port are both {settings.port}: they must differ "
                f"@ {_TABLE}.metrics_port"
            )
        else:
            return settings
    raise ConfigError(
        "invalid settings for taskserv my-service",
        problems=problems,
        hint=f"fix [{_TABLE}] in your configuration (prov config show displays it)",
    )
