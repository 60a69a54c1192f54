"""What the plugin ships: one service binary per version, and the config template.

Each version lives in ``payload/<version>/my-service`` inside this package, so
installing the plugin is all it takes to have every version it can deploy;
nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache
from importlib import resources

from provisioning_core import ConfigError, TaskservVersion

__all__ = [
    "available",
    "binary",
    "config_template",
    "declared_version",
    "latest",
    "require",
    "shipped_version",
    "versions",
]

_VERSION = re.compile(r"^\d+(\.\d+)*$")
_DECLARED = re.compile(rb'^VERSION = "([^"]+)"$', re.MULTILINE)


def _read(*parts: str) -> bytes:
    """The bytes of the package data file at ``parts`` (below this package)."""
    node = resources.files(__package__)
    for part in parts:
        node = node.joinpath(part)
    return node.read_bytes()


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@cache
def versions() -> tuple[str, ...]:
    """Every shipped version, newest first."""
    root = resources.files(__package__).joinpath("payload")
    found = [
        entry.name
        for entry in root.iterdir()
        if _VERSION.match(entry.name) and entry.joinpath("my-service").is_file()
    ]
    return tuple(sorted(found, key=_key, reverse=True))


def latest() -> str:
    """The newest shipped version."""
    return versions()[0]


def require(version: str) -> str:
    """``version`` if it is shipped; otherwise a :class:`ConfigError` listing those that are."""
    if version not in versions():
        raise ConfigError(
            f"my-service has no version {version!r}: this plugin ships {', '.join(versions())}",
            hint="pick one of those with --version (prov taskserv versions my-service lists "
            "them), or upgrade the provisioning-taskserv-my-service plugin for newer ones",
        )
    return version


@cache
def binary(version: str) -> bytes:
    """The service program of ``version``."""
    return _read("payload", require(version), "my-service")


@cache
def _digests() -> dict[str, str]:
    return {hashlib.sha256(binary(v)).hexdigest(): v for v in versions()}


def available() -> list[TaskservVersion]:
    """The shipped versions as :class:`TaskservVersion` records, newest first."""
    by_version = {v: d for d, v in _digests().items()}
    return [TaskservVersion(version=v, sha256=by_version[v]) for v in versions()]


def shipped_version(digest: str) -> str | None:
    """The shipped version whose binary has sha256 ``digest``, or None."""
    return _digests().get(digest)


def declared_version(content: bytes) -> str:
    """The ``VERSION`` a binary declares ("unknown" if none): for one edited on the host."""
    found = _DECLARED.search(content)
    return found.group(1).decode(errors="replace") if found else "unknown"


@cache
def config_template() -> str:
    """The Jinja2 source of ``/etc/my-service/config.json``."""
    return _read("templates", "config.json.j2").decode()
