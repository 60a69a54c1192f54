"""The audit trail: what operations ran, and acknowledging interrupted ones."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from provisioning_core.convert import unstructure
from provisioning_core.errors import InputError
from provisioning_core.operations.engine import Engine

if TYPE_CHECKING:
    from provisioning_core.state import OperationRecord

__all__ = ["acknowledge", "operation_row", "parse_since", "recent_operations", "show_operation"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SINCE = re.compile(r"^(\d+)([smhdw])$")


def parse_since(text: str, *, field: str = "--since") -> datetime:
    """``30m``, ``2h``, ``7d``, ``1w`` ago, or a date or UTC time (``2026-12-08``,
    ``2026-12-08T10:00``, ``...Z``): an aware UTC datetime; InputError naming ``field``."""
    value = text.strip()
    match = _SINCE.match(value)
    if match:
        return datetime.now(timezone.utc) - timedelta(
            seconds=int(match.group(1)) * _UNITS[match.group(2)]
        )
    try:
        moment = datetime.fromisoformat(value.removesuffix("Z"))
    except ValueError:
        raise InputError(
            f"cannot read {text!r} as a time",
            problems=[
                (
                    f"expected a duration such as 30m, 2h, 7d, 1w, or a date such as "
                    f"2026-12-08 (UTC), got {text!r} @ {field}"
                )
            ],
        ) from None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def operation_row(op: OperationRecord) -> dict[str, Any]:
    """An operation as ``prov operations list|show -o json`` prints it.

    The record's fields, and what its details say plainly: ``user`` (who ran
    it), ``changed`` (whether the plugin changed anything, when it said),
    ``job`` (the ``prov serve`` job, if one ran it), ``duration_seconds``.
    """
    row: dict[str, Any] = unstructure(op)
    duration = (op.finished_at - op.started_at).total_seconds() if op.finished_at else None
    row["duration_seconds"] = None if duration is None else round(duration, 3)
    row["user"] = op.details.get("user")
    row["changed"] = op.details.get("changed")
    row["job"] = op.details.get("job")
    return row


def recent_operations(
    engine: Engine,
    *,
    limit: int = 20,
    status: str | None = None,
    target: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
) -> list[OperationRecord]:
    """The newest operations first, filtered; runs that died show as interrupted.

    Reading never creates an inventory: without one, there is nothing.
    """
    if not engine.inventory_exists():
        return []
    engine.inventory.interrupted_operations()  # marks the operations of dead runs
    return engine.inventory.operations(
        limit=limit, status=status, target=target, action=action, since=since
    )


def show_operation(engine: Engine, op_id: int) -> OperationRecord:
    """Operation ``op_id``; InputError (exit 2) when there is none."""
    found = None
    if engine.inventory_exists():
        engine.inventory.interrupted_operations()
        found = engine.inventory.operation(op_id)
    if found is None:
        raise InputError(
            f"no operation {op_id} in the audit trail",
            hint="prov operations list shows the recorded operations and their ids",
        )
    return found


def acknowledge(engine: Engine, ids: Sequence[int], *, everything: bool = False) -> list[int]:
    """Stop reporting the interrupted operations ``ids`` (or all of them); returns which."""
    if not ids and not everything:
        raise InputError("say which operations", hint="pass their ids, or --all")
    pending = {op.id for op in engine.inventory.interrupted_operations()}
    chosen = sorted(pending) if everything else list(ids)
    unknown = [i for i in chosen if i not in pending]
    if unknown:
        raise InputError(
            "not interrupted operations (or already acknowledged): " + ", ".join(map(str, unknown)),
            hint="prov operations list --status interrupted shows them",
        )
    for op_id in chosen:
        engine.inventory.acknowledge(op_id)
    return chosen
