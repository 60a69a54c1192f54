"""Records kept in a small JSON file: read strictly, written atomically.

The directory registry (``registered.json``) and the loaded-extension records
(``loaded.json``) are such files.  A damaged file is a :class:`ConfigError`
naming it and what to do; a write goes to a temporary file renamed over the
old one, so a crash never leaves half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, TypeVar

from provisioning_core.convert import structure, unstructure
from provisioning_core.errors import ConfigError

__all__ = ["read_records", "write_records"]

T = TypeVar("T")


def read_records(path: Path, cls: type[T], *, what: str, hint: str) -> list[T]:
    """The ``cls`` records in ``path`` (none if it does not exist)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc}", hint=hint) from None
    records: list[T] = structure(data, list[cls], what=str(path))  # type: ignore[valid-type]
    return records


def write_records(path: Path, records: list[Any]) -> None:
    """Replace ``path`` with ``records``, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(unstructure(records), fh, indent=2)
    Path(tmp).replace(path)
