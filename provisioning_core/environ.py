"""Reading the ``PROV_*`` environment variables, the same way everywhere."""

from __future__ import annotations

import os

__all__ = ["env_flag", "env_names", "strict_mode"]

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


def env_flag(name: str) -> bool:
    """Whether ``name`` is set to a true value (1, true, yes, on; any case).

    Unset, empty, 0, false, no and off are false; anything else is true, so
    a typo errs on the side of the switch the user reached for.
    """
    return os.environ.get(name, "").strip().lower() not in _FALSE


def strict_mode() -> bool:
    """Whether ``PROV_STRICT`` asks for warnings to be treated as errors."""
    return env_flag("PROV_STRICT")


def env_names(name: str) -> set[str] | None:
    """The comma-separated names in ``name``, or None when it is unset or empty."""
    value = os.environ.get(name, "")
    names = {item.strip() for item in value.split(",") if item.strip()}
    return names or None
