"""Resource quantities as the seed (and Kubernetes) writes them.

CPU is a number of cores, whole or decimal (``"2"``, ``"0.5"``), or
thousandths of a core (``"500m"``); :func:`parse_cpu` gives millicores.  Sizes
(memory, storage) are a number of bytes with an optional suffix, binary
(``Ki Mi Gi Ti Pi``) or decimal (``k K M G T P``); :func:`parse_size` gives
bytes.  A plan's ``memory_mb`` counts MiB and ``storage_gb`` GiB
(:func:`mib`, :func:`gib`), so ``"4Gi"`` fits a plan of 4096 MB.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

__all__ = ["format_size", "gib", "mib", "parse_cpu", "parse_size"]

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50}
_DECIMAL = {"k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|Ti|Pi|k|K|M|G|T|P)?\s*$")
_CPU = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m)?\s*$")


def parse_cpu(text: str) -> int:
    """Millicores of ``text`` ("2" -> 2000, "500m" -> 500, "0.5" -> 500).

    Raises ValueError, saying what is expected, for anything else.
    """
    found = _CPU.match(text) if isinstance(text, str) else None
    if found is None:
        raise ValueError(
            f'invalid CPU quantity {text!r}: expected cores ("2", "0.5") or millicores ("500m")'
        )
    number = Decimal(found.group(1))
    millis = number if found.group(2) else number * 1000
    if millis != millis.to_integral_value():
        raise ValueError(f"invalid CPU quantity {text!r}: finer than a millicore")
    return int(millis)


def parse_size(text: str) -> int:
    """Bytes of ``text`` ("4Gi" -> 4 * 2**30, "20G" -> 20 * 10**9, "512" -> 512).

    Raises ValueError, saying what is expected, for anything else.
    """
    found = _SIZE.match(text) if isinstance(text, str) else None
    if found is None:
        raise ValueError(
            f"invalid size {text!r}: expected a number with an optional unit, "
            f'binary (Ki, Mi, Gi, Ti, Pi) or decimal (k, M, G, T, P), e.g. "4Gi", "20G"'
        )
    try:
        number = Decimal(found.group(1))
    except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
        raise ValueError(f"invalid size {text!r}") from None
    unit = found.group(2)
    factor = _BINARY.get(unit or "") or _DECIMAL.get(unit or "") or 1
    return int(number * factor)


def mib(megabytes: int) -> int:
    """Bytes of a plan's ``memory_mb`` (MiB)."""
    return megabytes * 2**20


def gib(gigabytes: int) -> int:
    """Bytes of a plan's ``storage_gb`` (GiB)."""
    return gigabytes * 2**30


def format_size(size: int) -> str:
    """``size`` bytes the way a person reads them, shortest first: "4Gi", "1.5Gi", "20G"."""
    shown = [str(size)]
    for unit, factor in [*_BINARY.items(), *_DECIMAL.items()]:
        if unit != "K" and size >= factor and (size * 10) % factor == 0:
            shown.append(f"{(Decimal(size) / factor).normalize():f}{unit}")
    return min(shown, key=len)
