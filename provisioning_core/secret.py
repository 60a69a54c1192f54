"""A credential that never shows itself.

``repr``, ``str``, ``format``, the converter's unstructure (and so JSON, state
and audit records) all give the mask; pickling and copying to JSON directly
refuse.  Only :meth:`Secret.reveal` returns the value, and only code that sends
it to its destination (an Authorization header) should call it.
"""

from __future__ import annotations

import functools
import hmac
import re
from collections.abc import Iterable
from typing import NoReturn

import attrs

MASK = "********"


class Secret:
    """Wraps a credential so that it cannot leak by accident."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError(f"a Secret wraps a string, not {type(value).__name__}")
        self._value = value

    def reveal(self) -> str:
        """The credential itself; call only where it is sent to its destination."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return format(MASK, spec)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)

    def __copy__(self) -> Secret:
        return self  # immutable: a copy may share the value

    def __deepcopy__(self, memo: dict[int, object]) -> Secret:
        return self

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled; keep the ${ENV} reference instead")


#: secrets shorter than this are not searched for in free text: they would mask ordinary
#: words ("local" in "localhost"), and where the stars fell would tell their value
MIN_MASKED_LENGTH = 8
# from this length on every occurrence is masked, inside a longer word too: a token
# this long is no ordinary word, and a leak matters more than a masked lookalike
_ALWAYS_MASKED_LENGTH = 16


def redact(text: str, *sources: object) -> str:
    """``text`` with the value of every Secret found in ``sources`` masked.

    Walks attrs instances, mappings and sequences, so a plugin error that
    echoes a token it was given (in an SDK's message, a URL) does not leak it.
    A value shorter than 16 characters is masked where it stands whole: not
    where it continues a word or number (its first or last character and the
    one beside it both letters or digits); a longer one wherever it is.
    Values shorter than
    :data:`MIN_MASKED_LENGTH` are left alone (:func:`short_secrets` finds
    them, so that the configuration can warn); a Secret object still never
    shows itself.
    """
    values = [v for v in _secret_values(sources, 0) if len(v) >= MIN_MASKED_LENGTH]
    if not values or not text:
        return text
    return _pattern(frozenset(values)).sub(MASK, text)


@functools.lru_cache(maxsize=64)
def _pattern(values: frozenset[str]) -> re.Pattern[str]:
    parts = []
    for value in sorted(values, key=len, reverse=True):  # the longest first
        whole = len(value) < _ALWAYS_MASKED_LENGTH
        before = r"(?<![^\W_])" if whole and value[0].isalnum() else ""
        after = r"(?![^\W_])" if whole and value[-1].isalnum() else ""
        parts.append(before + re.escape(value) + after)
    return re.compile("|".join(parts))


def short_secrets(*sources: object) -> int:
    """How many secrets in ``sources`` are too short to be masked in free text."""
    return sum(1 for v in _secret_values(sources, 0) if len(v) < MIN_MASKED_LENGTH)


def _secret_values(obj: object, depth: int) -> set[str]:
    if depth > 8:  # noqa: PLR2004 - deep enough for settings; guards against cycles
        return set()
    if isinstance(obj, Secret):
        return {obj.reveal()} if obj.reveal() else set()
    if isinstance(obj, (str, bytes, int, float, bool)) or obj is None:
        return set()
    if isinstance(obj, dict):
        items: Iterable[object] = obj.values()
    elif isinstance(obj, (list, tuple, set, frozenset)):
        items = obj
    elif attrs.has(type(obj)):
        items = (getattr(obj, a.name) for a in attrs.fields(type(obj)))  # type: ignore[arg-type]
    else:
        return set()
    found: set[str] = set()
    for item in items:
        found |= _secret_values(item, depth + 1)
    return found
