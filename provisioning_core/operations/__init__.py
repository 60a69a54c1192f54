"""What each command does, independent of any screen.

The CLI parses, calls these and renders; a Python program can call them the
same way.  Build an :class:`Engine` (configuration, plugins, inventory,
executor) and pass it to the functions of :mod:`.servers`,
:mod:`.taskservs`, :mod:`.clusters`; :mod:`.plugins` needs none.
"""

from __future__ import annotations

from provisioning_core.operations.engine import Engine, Provider, Reporter
from provisioning_core.operations.executor import Executor, Interrupted, Outcome, ThreadExecutor
from provisioning_core.operations.report import Report, TargetResult

__all__ = [
    "Engine",
    "Executor",
    "Interrupted",
    "Outcome",
    "Provider",
    "Report",
    "Reporter",
    "TargetResult",
    "ThreadExecutor",
]
