"""Which extensions were loaded explicitly, remembered across ``prov`` processes.

With ``[orchestrator.extensions] auto_load = false`` a command uses only the
extensions loaded with ``prov module load TYPE NAME [--version V]``.  Each
such load is recorded in ``<cache_dir>/loaded.json`` (kind, name, the version
asked for, when) until ``prov module unload``; a record pins its version.
With ``auto_load = true`` (the default) the records are kept but not needed.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import attrs

from provisioning_core.jsonfile import read_records, write_records
from provisioning_core.models import ExtensionType

__all__ = ["LOADED_FILE", "LoadedRecord", "forget_loaded", "loaded_records", "record_loaded"]

LOADED_FILE = "loaded.json"


@attrs.frozen
class LoadedRecord:
    """An explicit load: ``version`` is the one asked for (None: the highest available)."""

    kind: ExtensionType = attrs.field(converter=ExtensionType)
    name: str
    version: str | None
    loaded_at: datetime


def _file(cache_dir: Path) -> Path:
    return cache_dir / LOADED_FILE


def loaded_records(cache_dir: Path) -> list[LoadedRecord]:
    """Every recorded explicit load in ``cache_dir``."""
    return read_records(
        _file(cache_dir),
        LoadedRecord,
        what="the loaded-extension records",
        hint="delete the file, then load the extensions again with prov module load",
    )


def _save(cache_dir: Path, records: list[LoadedRecord]) -> None:
    write_records(_file(cache_dir), records)


def record_loaded(
    cache_dir: Path, kind: ExtensionType | str, name: str, version: str | None
) -> LoadedRecord:
    """Remember that ``kind``/``name`` was loaded (at ``version``); replaces an older record."""
    record = LoadedRecord(ExtensionType.of(kind), name, version, datetime.now(timezone.utc))
    others = [
        r for r in loaded_records(cache_dir) if not (r.kind == record.kind and r.name == name)
    ]
    _save(cache_dir, [*others, record])
    return record


def forget_loaded(cache_dir: Path, kind: ExtensionType | str, name: str) -> bool:
    """Forget the record of ``kind``/``name``; False when there was none."""
    kind = ExtensionType.of(kind)
    records = loaded_records(cache_dir)
    keep = [r for r in records if not (r.kind == kind and r.name == name)]
    if len(keep) == len(records):
        return False
    _save(cache_dir, keep)
    return True
