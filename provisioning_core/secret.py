"""A credential that never shows itself.

``repr``, ``str``, ``format``, the converter's unstructure (and so JSON, state
and audit records) all give the mask; pickling and copying to JSON directly
refuse.  Only :meth:`Secret.reveal` returns the value, and only code that sends
it to its destination (an Authorization header) should call it.
"""

from __future__ import annotations

import hmac
from typing import NoReturn

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
