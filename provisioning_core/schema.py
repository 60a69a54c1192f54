"""JSON Schema for the contract's records, generated from their attrs classes.

What the HTTP API's OpenAPI document says a request body is comes from here,
so the schema a client reads and the model the converter structures with are
one definition.  It covers what records are made of: strings, numbers,
booleans, None, lists, string-keyed dicts, enums, :class:`Secret` (a
string, never shown) and nested attrs classes; anything else is left open
(``{}``).
"""

from __future__ import annotations

import enum
import types
import typing
from typing import Any

import attrs

from provisioning_core.secret import Secret

__all__ = ["json_schema"]

_SCALARS: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    type(None): {"type": "null"},
    Secret: {"type": "string", "format": "password", "writeOnly": True},
}


def json_schema(cls: type[Any], definitions: dict[str, Any] | None = None) -> dict[str, Any]:
    """The schema of attrs class ``cls``; nested classes go in ``definitions`` by name
    (referenced as ``#/components/schemas/NAME``, OpenAPI's place for them)."""
    definitions = {} if definitions is None else definitions
    hints = typing.get_type_hints(cls)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for field in attrs.fields(cls):
        name = field.alias or field.name
        schema = _type(hints.get(field.name, Any), definitions)
        if field.default is attrs.NOTHING:
            required.append(name)
        elif not isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
            schema = {**schema, "default": _plain(field.default)}
        properties[name] = schema
    result: dict[str, Any] = {
        "title": cls.__name__,
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if cls.__doc__:
        result["description"] = " ".join(cls.__doc__.split("\n\n")[0].split())
    if required:
        result["required"] = required
    return result


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _type(tp: Any, definitions: dict[str, Any]) -> dict[str, Any]:  # noqa: PLR0911 - one per kind
    if tp in _SCALARS:
        return dict(_SCALARS[tp])
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [_type(a, definitions) for a in args]}
    if origin in (list, tuple, set, frozenset) or tp in (list, tuple):
        item = args[0] if args else Any
        return {"type": "array", "items": _type(item, definitions)}
    if origin is dict or tp is dict:
        value = args[1] if len(args) == 2 else Any  # noqa: PLR2004 - dict[key, value]
        return {"type": "object", "additionalProperties": _type(value, definitions)}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"enum": [m.value for m in tp]}
    if isinstance(tp, type) and attrs.has(tp):
        if tp.__name__ not in definitions:
            definitions[tp.__name__] = {}  # a placeholder first: records may nest themselves
            definitions[tp.__name__] = json_schema(tp, definitions)
        return {"$ref": f"#/components/schemas/{tp.__name__}"}
    return {}
