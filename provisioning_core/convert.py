"""The one cattrs converter, and the way its errors read.

Structuring is strict (unknown keys are errors, so a typo in a config file or
in a plugin's result is caught) and every problem becomes one line,
"message @ $.path".  Secrets unstructure to the mask, never their value.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar, get_origin

import attrs
import cattrs
from cattrs.cols import list_structure_factory
from cattrs.gen import make_dict_structure_fn
from cattrs.v import format_exception, transform_error

from provisioning_core.errors import DataValidationError
from provisioning_core.models import FirewallRule, _StrEnum, parse_ports
from provisioning_core.secret import MASK, Secret
from provisioning_core.seed import from_scalar, normalize

__all__ = ["converter", "structure", "type_name", "unstructure"]

T = TypeVar("T")

converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)


def _structure_secret(value: Any, _: type) -> Secret:
    if isinstance(value, Secret):
        return value
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    if value == MASK:  # what unstructure wrote: the value itself was never kept
        raise ValueError("is the mask '********', not a credential; give the real value")
    return Secret(value)


def _structure_datetime(value: Any, _: type) -> datetime:
    if isinstance(value, datetime):
        return value
    text = str(value)
    # Python 3.10's fromisoformat does not read the "Z" that APIs send
    return datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)


def _attrs_hook_factory(cls: type[Any]) -> Any:
    # plugins may mix model instances and dicts (a list of Server and dicts):
    # an instance passes through, a mapping is structured strictly
    from_dict = make_dict_structure_fn(cls, converter)

    def hook(value: Any, _: type) -> Any:
        if isinstance(value, cls):
            return value
        if not isinstance(value, Mapping):
            mapping = from_scalar(cls, value)
            if mapping is None:
                raise TypeError(f"expected a table (mapping), got {type(value).__name__}")
            value = mapping
        return from_dict(normalize(cls, value), cls)

    return hook


def _list_hook_factory(type_: Any) -> Any:
    # cattrs would make "1.2.3.4" a list of characters
    from_iterable = list_structure_factory(type_, converter)

    def hook(value: Any, cls: Any) -> Any:
        if isinstance(value, (str, bytes, Mapping)):
            raise TypeError(f"expected a list, got {type(value).__name__}")
        return from_iterable(value, cls)

    return hook


# Scalars are taken as they are, never coerced: cattrs would turn "false" into
# True, 2.9 into 2 and 5 into "5", hiding a plugin's or a user's mistake.
def _strict(*allowed: type) -> Any:
    def hook(value: Any, cls: type) -> Any:
        if isinstance(value, bool) and bool not in allowed:
            raise ValueError(f"expected {cls.__name__}, got a boolean")
        if not isinstance(value, allowed):
            raise TypeError(f"expected {cls.__name__}, got {type(value).__name__}")
        return cls(value)

    return hook


converter.register_structure_hook(bool, _strict(bool))
converter.register_structure_hook(int, _strict(int))
converter.register_structure_hook(float, _strict(int, float))
converter.register_structure_hook(str, _strict(str))


def _is_list(type_: Any) -> bool:
    return get_origin(type_) is list


converter.register_structure_hook_factory(_is_list, _list_hook_factory)


converter.register_structure_hook_factory(attrs.has, _attrs_hook_factory)
_rule_from_dict = _attrs_hook_factory(FirewallRule)


def _structure_rule(value: Any, cls: type) -> Any:
    """A rule; the seed writes ``port`` as a string: ``"22"``, ``"8000-8100"``."""
    if isinstance(value, Mapping) and isinstance(value.get("port"), str):
        ports = parse_ports(value["port"])
        data = dict(value)
        if ports is not None and ports[1] is not None and data.get("port_end") is not None:
            raise ValueError(f"port {value['port']!r} is a range and port_end is given too")
        data["port"] = ports[0] if ports else None
        if ports is not None and ports[1] is not None:
            data["port_end"] = ports[1]
        value = data
    return _rule_from_dict(value, cls)


converter.register_structure_hook(FirewallRule, _structure_rule)
converter.register_structure_hook(Secret, _structure_secret)
converter.register_unstructure_hook(Secret, lambda _: MASK)
converter.register_structure_hook(datetime, _structure_datetime)
converter.register_unstructure_hook(datetime, lambda d: d.isoformat())
# a str enum is its value in JSON and YAML alike (YAML refuses the enum object);
# registered on the enum base, which comes before str in a member's MRO
converter.register_unstructure_hook(_StrEnum, lambda e: e.value)


def _describe(exc: BaseException, type_: Any) -> str:
    """cattrs' wording, made specific where it is vague."""
    if isinstance(exc, ValueError) and isinstance(type_, type) and issubclass(type_, enum.Enum):
        allowed = ", ".join(str(m.value) for m in type_)
        return f"invalid value {_offending(exc)}, expected one of: {allowed}"
    if type_ in (Secret, Secret | None):
        return str(exc) if isinstance(exc, ValueError) else "invalid value, expected a string"
    if (
        type(exc) in (ValueError, TypeError)
        and exc.args
        and (type_ is None or str(exc).startswith("expected "))
    ):
        # raised by a model's validator or a strict hook here: its words are precise
        return str(exc)
    return format_exception(exc, type_)


def _offending(exc: BaseException) -> str:
    text = str(exc)
    # enum's ValueError reads "'x' is not a valid ServerStatus"
    return text.split(" is not a valid ", 1)[0] if " is not a valid " in text else ""


def structure(data: Any, cls: type[T], *, what: str = "data") -> T:
    """Build ``cls`` from ``data``, or raise :class:`DataValidationError`.

    ``data`` that already is a ``cls`` is returned as it is.  ``what`` names
    the data in the error ("result of upcloud.create_server").
    """
    try:
        if isinstance(data, cls):
            return data
    except TypeError:  # cls is a generic alias such as list[Server]
        pass
    try:
        return converter.structure(data, cls)
    except Exception as exc:  # cattrs raises several unrelated types
        problems = transform_error(exc, path="$", format_exception=_describe)
        raise DataValidationError(
            f"{what} is not a valid {type_name(cls)}", problems=problems
        ) from None


def type_name(cls: Any) -> str:
    """A type as a reader knows it: ``list[Server]``, not its module path."""
    if isinstance(cls, type) and not getattr(cls, "__args__", None):
        return cls.__name__
    return re.sub(
        r"[\w.]+\.", "", str(cls)
    )  # list[provisioning_core.models.Server] -> list[Server]


def unstructure(obj: Any) -> Any:
    """Plain data (dicts, lists, strings) for ``obj``; secrets become the mask."""
    return converter.unstructure(obj)
