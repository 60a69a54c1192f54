"""What an operation reports: one result per target, planned or done.

These records are what ``-o json`` and ``-o yaml`` print (unstructured), so
their fields are a documented, stable format (docs/cli.md).
"""

from __future__ import annotations

from typing import Any

import attrs
from attrs import Factory

from provisioning_core.errors import ProvisioningError
from provisioning_core.operations.waiting import WaitCancelled

__all__ = [
    "Report",
    "TargetResult",
    "change_kind",
    "changes_of",
    "error_message",
    "report_data",
    "summary",
]


_BAD_INPUT = 2  # ConfigError's exit code


@attrs.frozen
class TargetResult:
    """The result for one target (a server, a taskserv on a server, a cluster).

    ``outcome`` is "planned" (check mode), "done", "unchanged", "failed",
    "interrupted" (the change was asked for, but the wait for its result was
    stopped: what it became is unknown) or "skipped" (never started:
    interrupted).  ``actions`` lists the steps done
    or planned; ``data`` holds the target's record (e.g. the server).
    """

    target: str
    outcome: str
    status: str | None = None
    actions: list[str] = Factory(list)
    error: str | None = None
    hint: str | None = None
    data: dict[str, Any] = Factory(dict)
    #: of a failure: 2 when the input was refused (a ConfigError), else 1
    exit_code: int = 1

    @property
    def ok(self) -> bool:
        """Whether the target did not fail."""
        return self.outcome not in {"failed", "skipped", "interrupted"}

    @classmethod
    def interrupted(cls, target: str, cancelled: WaitCancelled, **kwargs: Any) -> TargetResult:
        """The change was asked for, then the wait for it was stopped (Ctrl-C, a shutdown)."""
        return cls(
            target,
            "interrupted",
            cancelled.last,
            error=cancelled.message,
            hint="what it became is unknown: look (prov ... info or status), then run again",
            exit_code=cancelled.exit_code,
            **kwargs,
        )

    @classmethod
    def failure(cls, target: str, error: BaseException, **kwargs: Any) -> TargetResult:
        """A failed result carrying the error's message and hint."""
        hint = error.hint if isinstance(error, ProvisioningError) else None
        code = error.exit_code if isinstance(error, ProvisioningError) else 1
        return cls(
            target, "failed", error=error_message(error), hint=hint, exit_code=code, **kwargs
        )


@attrs.frozen
class Report:
    """Everything one command did (or, with ``check``, would do).

    ``details`` holds what the operation says of itself beyond its targets
    (a cluster's ``endpoints``, ``requirements_check``, ``skipped`` components,
    what ``delete --force`` ``left``).
    """

    operation: str
    check: bool
    results: list[TargetResult] = Factory(list)
    warnings: list[str] = Factory(list)
    interrupted: bool = False
    details: dict[str, Any] = Factory(dict)

    @property
    def ok(self) -> bool:
        """Whether every target succeeded and nothing was interrupted."""
        return not self.interrupted and all(r.ok for r in self.results)

    @property
    def exit_code(self) -> int:
        """0 when everything succeeded, 130 when interrupted (a wait too), 2 when every failure
        was refused input (a plugin's ConfigError), else 1."""
        if self.interrupted or any(r.outcome == "interrupted" for r in self.results):
            return 130
        if self.ok:
            return 0
        failed = [r for r in self.results if not r.ok]
        refused = failed and all(r.exit_code == _BAD_INPUT for r in failed)
        return _BAD_INPUT if refused else 1


#: what an operation does to its targets, as terraform's plans say it
_ADDS = frozenset({"server.create", "taskserv.install", "cluster.create"})
_DESTROYS = frozenset({"server.delete", "taskserv.uninstall", "cluster.delete"})


def change_kind(operation: str) -> str:
    """ "add", "destroy" or "change": what ``operation`` does to a target it changes."""
    if operation in _ADDS:
        return "add"
    if operation in _DESTROYS:
        return "destroy"
    return "change"


def summary(report: Report) -> dict[str, int]:
    """How many targets the report adds, changes, destroys (or would: check mode), and leaves.

    A target counts when it is ``planned`` (check mode) or ``done``; ``unchanged`` ones are
    counted apart, and so are ``failed``, ``interrupted`` and ``skipped`` ones.
    """
    counts = {"add": 0, "change": 0, "destroy": 0, "unchanged": 0, "failed": 0}
    kind = change_kind(report.operation)
    for result in report.results:
        if result.outcome in {"planned", "done"}:
            counts[kind] += 1
        elif result.outcome == "unchanged":
            counts["unchanged"] += 1
        elif result.outcome in {"failed", "interrupted", "skipped"}:
            counts["failed"] += 1
    return counts


def changes_of(result: Any) -> dict[str, Any]:
    """``{"changes": [...]}``: the change records a plugin's OperationResult carries, for
    JSON and ``--diff`` (:func:`~provisioning_core.runtime.steps.change_details`)."""
    from provisioning_core.runtime.steps import change_details

    return change_details(result)


def error_message(error: BaseException) -> str:
    """One line for the inventory and reports: a ProvisioningError's message, else type and text."""
    if isinstance(error, ProvisioningError):
        return error.message
    return f"{type(error).__name__}: {error}"


def report_data(report: Report) -> dict[str, Any]:
    """The report as ``-o json`` prints it (and the HTTP API returns it): plain data, ``ok``
    and ``summary`` (:func:`summary`)."""
    from provisioning_core.convert import unstructure

    data: dict[str, Any] = unstructure(report)
    data["ok"] = report.ok
    data["summary"] = summary(report)
    return data
