"""The audit trail: what operations ran, and acknowledging interrupted ones."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from provisioning_core.errors import InputError
from provisioning_core.operations.engine import Engine

if TYPE_CHECKING:
    from provisioning_core.state import OperationRecord

__all__ = ["acknowledge", "recent_operations"]


def recent_operations(
    engine: Engine, *, limit: int = 20, status: str | None = None
) -> list[OperationRecord]:
    """The newest operations first; runs that died show as interrupted.

    Reading never creates an inventory: without one, there is nothing.
    """
    if not engine.inventory_exists():
        return []
    engine.inventory.interrupted_operations()  # marks the operations of dead runs
    return engine.inventory.operations(limit=limit, status=status)


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
