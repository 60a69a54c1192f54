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

from collections.abc import Callable, Mapping
from typing import Any

import attrs

__all__ = ["Spelling", "normalize", "spelling", "spellings"]

Adapt = Callable[[dict[str, Any], Mapping[str, Any]], dict[str, Any]]
"""``adapt(renamed, original)``: the record with our names, from what was given."""


@attrs.frozen
class Spelling:
    """How the seed writes one model (see the module's docstring)."""

    aliases: Mapping[str, str] = attrs.Factory(dict)
    envelope: frozenset[str] = frozenset()
    adapt: Adapt | None = None


_SPELLINGS: dict[type, Spelling] = {}


def spelling(
    cls: type,
    *,
    aliases: Mapping[str, str] | None = None,
    envelope: frozenset[str] | set[str] = frozenset(),
    adapt: Adapt | None = None,
) -> None:
    """Declare how the seed writes ``cls``; one declaration per class."""
    if cls in _SPELLINGS:
        raise ValueError(f"the seed's spelling of {cls.__name__} is declared twice")
    _SPELLINGS[cls] = Spelling(dict(aliases or {}), frozenset(envelope), adapt)


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

# --- providers --------------------------------------------------------------

# --- taskservs --------------------------------------------------------------

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

# --- extensions -------------------------------------------------------------
