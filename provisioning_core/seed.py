"""The seed's spellings of the contract's records (**contract**).

The Extension Development API (the seed) writes some records with other
names than ours: ``server_id`` for a Server's ``id``, ``success`` for a
ConnectionResult's ``ok``, a result wrapped in an envelope (``success``,
``message``, ``check_mode``, ``would_create``...).  Each :class:`Spelling`
here says, for one model, which keys of a mapping are the seed's names for
our fields (``aliases``), which keys are the seed's envelope around the record
(``envelope``: accepted, type-checked, read by ``adapt`` and then dropped) and
how a seed value reads as ours (``adapt``).

The one converter applies :func:`normalize` to every mapping before its
strict structuring, so a key that neither spelling knows is still an error,
and a record giving both spellings of one field is refused.  Output always
shows our (canonical) names.  ``docs/seed.md`` maps every seed name to ours.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from provisioning_core.quantities import parse_size

__all__ = ["Spelling", "from_scalar", "normalize", "spelling", "spellings"]

Adapt = Callable[[dict[str, Any], Mapping[str, Any]], dict[str, Any]]
"""``adapt(renamed, original)``: the record with our names, from what was given."""


@attrs.frozen
class Spelling:
    """How the seed writes one model (see the module's docstring)."""

    aliases: Mapping[str, str] = attrs.Factory(dict)
    envelope: frozenset[str] = frozenset()
    adapt: Adapt | None = None
    #: the key a bare string stands for (the seed lists versions as strings)
    scalar: str | None = None
    #: ``adapt`` only matters when a seed key (alias or envelope) is given:
    #: a record in our spelling then goes through untouched (the hot path)
    lazy: bool = False
    #: the aliases and envelope keys, to see at once that a record has none
    seed_keys: frozenset[str] = attrs.field(init=False)

    @seed_keys.default
    def _seed_keys(self) -> frozenset[str]:
        return frozenset(self.aliases) | self.envelope


_SPELLINGS: dict[type, Spelling] = {}


def spelling(
    cls: type,
    *,
    aliases: Mapping[str, str] | None = None,
    envelope: frozenset[str] | set[str] = frozenset(),
    adapt: Adapt | None = None,
    scalar: str | None = None,
    lazy: bool = False,
) -> None:
    """Declare how the seed writes ``cls``; one declaration per class."""
    if cls in _SPELLINGS:
        raise ValueError(f"the seed's spelling of {cls.__name__} is declared twice")
    _SPELLINGS[cls] = Spelling(dict(aliases or {}), frozenset(envelope), adapt, scalar, lazy)


def from_scalar(cls: type, value: Any) -> Mapping[str, Any] | None:
    """``value`` as the mapping it stands for, if the seed writes ``cls`` as a bare string."""
    found = _SPELLINGS.get(cls)
    if found is None or found.scalar is None or not isinstance(value, str):
        return None
    return {found.scalar: value}


def spellings() -> Mapping[type, Spelling]:
    """Every declared spelling, by model class (for the docs and their test)."""
    return dict(_SPELLINGS)


def normalize(cls: type, data: Mapping[str, Any]) -> Mapping[str, Any]:
    """``data`` with the seed's names of ``cls`` turned into ours.

    Raises ValueError naming both keys when a field is given under both of its
    names.  ``data`` itself is returned when ``cls`` has no seed spelling.
    """
    found = _SPELLINGS.get(cls)
    if found is None:
        return data
    if (found.adapt is None or found.lazy) and found.seed_keys.isdisjoint(data):
        return data  # our own spelling: nothing to rename or adapt
    renamed: dict[str, Any] = {}
    given: dict[str, str] = {}
    for key, value in data.items():
        if key in found.envelope:
            continue
        target = found.aliases.get(key, key)
        if target in renamed:
            raise ValueError(
                f"{given[target]!r} and {key!r} are two names of one field; give one of them"
            )
        renamed[target] = value
        given[target] = key
    return found.adapt(renamed, data) if found.adapt is not None else renamed


# The declarations, by kind.  Imported here, not above, so this module's
# machinery stays importable by models' users without a cycle.
from provisioning_core import models as _m  # noqa: E402

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")
_SECONDS = {
    "ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "sec": 1.0, "secs": 1.0,
    "m": 60.0, "min": 60.0, "mins": 60.0, "h": 3600.0, "hr": 3600.0, "hrs": 3600.0,
    "d": 86400.0, "day": 86400.0, "days": 86400.0, "wk": 604800.0, "wks": 604800.0,
}  # fmt: skip


def seconds(value: Any, what: str) -> Any:
    """A duration as seconds: a number, or text as Nushell prints one ("1hr 5min")."""
    if not isinstance(value, str):
        return value
    try:
        return float(value)  # "90": seconds
    except ValueError:
        pass
    parts = _DURATION.findall(value.strip().lower())
    rest = _DURATION.sub("", value.strip().lower()).strip()
    if not parts or rest or any(unit not in _SECONDS for _, unit in parts):
        raise ValueError(f"{what} {value!r} is not a duration such as 90, '90sec' or '1hr 5min'")
    return sum(float(n) * _SECONDS[unit] for n, unit in parts)


def megabytes(value: Any, what: str) -> Any:
    """A size as MB (10**6 bytes): a number (MB), or text as Nushell prints it ("1.5 GiB").

    The units are :func:`provisioning_core.quantities.parse_size`'s, with the "B" Nushell adds.
    """
    if not isinstance(value, str):
        return value
    text = value.strip().removesuffix("B")
    try:
        return float(text)  # a bare number is MB
    except ValueError:
        pass
    try:
        return parse_size(text) / 1e6
    except ValueError:
        raise ValueError(
            f"{what} {value!r} is not a size such as 512, '512MB' or '1.5GiB'"
        ) from None


def percent(value: Any, what: str) -> Any:
    """A share in percent: a number, or text ("12.5%")."""
    if not isinstance(value, str):
        return value
    try:
        return float(value.strip().removesuffix("%"))
    except ValueError:
        raise ValueError(f"{what} {value!r} is not a percentage such as 12.5 or '12.5%'") from None


# --- providers --------------------------------------------------------------

spelling(_m.ConnectionResult, aliases={"success": "ok"})

# create_server's envelope ({success, server_id, hostname, status, message,
# ip_addresses, ssh_access}) and its check-mode record ({action, hostname,
# check_mode, would_create, estimated_time})
_SERVER_ENVELOPE = {"success", "message", "action", "check_mode", "would_create"}
_SERVER_ENVELOPE |= {"estimated_time", "ssh_access"}


def _server(data: dict[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    if given.get("check_mode") is True or "would_create" in given:
        # a plan: the server does not exist yet, so it has no id
        data.setdefault("id", "")
        data.setdefault("status", "creating")
    return data


spelling(
    _m.Server, aliases={"server_id": "id"}, envelope=_SERVER_ENVELOPE, adapt=_server, lazy=True
)
spelling(_m.ProviderFeatures, aliases={"backup": "backups"})
# storage = {size = 80, tier = "standard"}: how the upcloud plugin documented it
spelling(_m.ServerStorage, aliases={"tier": "type"})

# --- taskservs --------------------------------------------------------------

spelling(
    _m.TaskservInstall,
    aliases={"binary_path": "path", "config_path": "config_dir", "data_path": "data_dir"},
)


def _health_check(data: dict[str, Any], _given: Mapping[str, Any]) -> dict[str, Any]:
    if "type" not in data:
        if data.get("command") is not None:
            data["type"] = "command"
        elif data.get("endpoint") is not None:
            data["type"] = "http"
        elif data.get("port") is not None:
            data["type"] = "tcp"
    return data


spelling(_m.HealthCheck, adapt=_health_check)


def _requirement(item: Any, index: int) -> Any:
    # version.k writes a dependency as { name = "containerd", version = ">=1.6.0" }
    if not isinstance(item, Mapping):
        return item
    unknown = set(item) - {"name", "version"}
    if unknown or not isinstance(item.get("name"), str):
        raise ValueError(
            f"dependency {index} must be a requirement string or a table of name and "
            f"version, not {dict(item)!r}"
        )
    version = item.get("version") or ""
    if not isinstance(version, str):
        raise TypeError(f"dependency {item['name']!r}: version must be a string")
    version = version.strip()
    if version and version[0].isdigit():  # "1.6.0" alone means exactly that version
        version = "==" + version
    return item["name"] + version


def _taskserv_info(data: dict[str, Any], _given: Mapping[str, Any]) -> dict[str, Any]:
    deps = data.get("dependencies")
    if isinstance(deps, list):
        data["dependencies"] = [_requirement(d, i) for i, d in enumerate(deps)]
    return data


spelling(_m.TaskservInfo, adapt=_taskserv_info)
# get-available-versions() -> list<string>
spelling(_m.TaskservVersion, scalar="version")

# the seed's status record: service, version, systemd_status, health, uptime,
# memory_usage and cpu_usage
_INACTIVE = {None, "", "unknown"}


def _taskserv_status(data: dict[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    systemd = data.get("systemd_status")
    if "installed" not in data:
        data["installed"] = systemd not in _INACTIVE or data.get("version") is not None
    if "running" not in data and isinstance(systemd, str):
        data["running"] = systemd == "active"
    health = data.get("health")
    if isinstance(health, bool):  # a plain flag, not the seed's record
        data.setdefault("healthy", health)
        data["health"] = None
    elif isinstance(health, Mapping) and "healthy" not in data:
        if isinstance(health.get("healthy"), bool):
            data["healthy"] = health["healthy"]
        data["health"] = {k: v if _plain(v) else str(v) for k, v in health.items()}
    if "uptime" in given:
        data["uptime_seconds"] = seconds(data.get("uptime_seconds"), "uptime")
    if "memory_usage" in given:
        data["memory_mb"] = megabytes(data.get("memory_mb"), "memory_usage")
    if "cpu_usage" in given:
        data["cpu_percent"] = percent(data.get("cpu_percent"), "cpu_usage")
    return data


def _plain(value: Any) -> bool:
    # the seed's health record holds a datetime (last_check: date now); keep
    # what JSON can hold, as text what it cannot
    return value is None or isinstance(value, (str, int, float, bool, list, dict))


spelling(
    _m.TaskservStatus,
    aliases={
        "service": "name",
        "uptime": "uptime_seconds",
        "memory_usage": "memory_mb",
        "cpu_usage": "cpu_percent",
    },
    adapt=_taskserv_status,
)

# What install, upgrade, create... return in the seed: an envelope around what
# was done ({success, service, version, status, health}), and in check mode
# ({action, check_mode, would_install | would_create, requirements_met...}).
# The record's own keys are kept in ``details``.
_RESULT_ENVELOPE = frozenset(
    {
        "success", "action", "check_mode", "would_install", "would_create", "service",
        "version", "status", "health", "requirements_met", "requirements_check",
        "cluster", "components", "endpoints", "hostname", "estimated_time", "error",
    }
)  # fmt: skip
_NOT_DETAILS = {"success", "check_mode"}


def _operation_result(data: dict[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    extras = {k: v for k, v in given.items() if k in _RESULT_ENVELOPE and k not in _NOT_DETAILS}
    if not extras and "success" not in given and "check_mode" not in given:
        return data
    details = dict(data.get("details") or {})
    details.update({k: v if _plain(v) else str(v) for k, v in extras.items()})
    data["details"] = details
    if "changed" not in data:
        planned = given.get("would_install", given.get("would_create"))
        data["changed"] = planned if isinstance(planned, bool) else True
    if "message" not in data:
        data["message"] = _summary(given)
    return data


def _summary(given: Mapping[str, Any]) -> str:
    what = " ".join(
        str(given[k]) for k in ("action", "service", "cluster", "version") if given.get(k)
    )
    status = given.get("status")
    text = f"{what}: {status}" if what and isinstance(status, str) else what
    unmet = _unmet(given.get("requirements_met", given.get("requirements_check")))
    if unmet is not None:
        text = (
            f"{text}; requirements not met: {unmet}" if text else f"requirements not met: {unmet}"
        )
    return text


def _unmet(check: Any) -> str | None:
    """What the seed's requirements record says is missing, or None if all is met."""
    if check is False:
        return "(the plugin did not say which)"
    if isinstance(check, Mapping) and check.get("met") is False:
        missing = check.get("missing") or check.get("issues") or []
        names = [str(m) for m in missing] if isinstance(missing, list) else [str(missing)]
        return ", ".join(names) or "(the plugin did not say which)"
    return None


spelling(_m.OperationResult, envelope=_RESULT_ENVELOPE, adapt=_operation_result, lazy=True)

# --- clusters ---------------------------------------------------------------


def _component(renamed: dict[str, Any], _: Mapping[str, Any]) -> dict[str, Any]:
    # the seed gives a component's replicas in its resources; they are ours too
    resources = renamed.get("resources")
    replicas = (
        resources.get("replicas")
        if isinstance(resources, Mapping)
        else getattr(resources, "replicas", None)
    )
    if replicas is not None and "replicas" not in renamed:
        renamed["replicas"] = replicas
    return renamed


spelling(
    _m.Component,
    aliases={"type": "kind", "dependencies": "depends_on", "config": "settings"},
    adapt=_component,
)
