"""The pytest plugin of provisioning (registered under ``pytest11``).

Installed with provisioning-core, it gives every test suite the fixtures a
plugin's tests need: an isolated ``PROV_HOME`` and workspace, an extension
manager and ``prov`` run in process.  None is autouse, so a project that
merely has provisioning-core installed sees no change in its own tests; a
conftest fixture of the same name overrides these.

This module is imported whenever pytest starts in an environment with the
core, so it imports nothing beyond pytest at module level: a dataclass, not
attrs, which alone would cost 20 ms per pytest run (bench/author_cases.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from provisioning_core.extensions import ExtensionManager

__all__ = ["ProvResult", "ProvRunner", "extension_manager", "prov", "prov_home", "prov_workspace"]


@dataclass(frozen=True)
class ProvResult:
    """What one in-process ``prov`` run did: its exit code and what it printed."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """stdout then stderr."""
        return self.stdout + self.stderr

    def json(self) -> Any:
        """stdout parsed as JSON (run with ``-o json``)."""
        try:
            return json.loads(self.stdout)
        except json.JSONDecodeError as exc:
            msg = f"prov printed no JSON (exit {self.exit_code}): {self.output[-2000:]}"
            raise AssertionError(msg) from exc


ProvRunner = Callable[..., ProvResult]


def run_prov(*args: str, input: str | None = None) -> ProvResult:  # noqa: A002 - click's name
    """Run ``prov ARGS`` through its real entry point in this process."""
    from click.testing import CliRunner

    from provisioning_core.cli import main

    runner = CliRunner()
    with runner.isolation(input=input) as (out, err, _):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        else:  # pragma: no cover - main always exits
            code = 0
        return ProvResult(code, out.getvalue().decode(), err.getvalue().decode())


@pytest.fixture
def prov_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An isolated ``PROV_HOME``; the test runs in a fresh workspace (``prov_workspace``).

    Every other ``PROV_*`` variable is cleared and ``XDG_CONFIG_HOME`` moved,
    so no user configuration leaks in.  Processes left in local sandboxes
    under this home are killed when the test ends.
    """
    from provisioning_core.testing.lab import isolate, reap_sandboxes

    home = isolate(tmp_path, monkeypatch)
    yield home
    reap_sandboxes(home)


@pytest.fixture
def prov_workspace(prov_home: Path) -> Path:
    """The test's working directory: write ``provisioning.toml`` here to configure prov."""
    return prov_home.parent / "work"


@pytest.fixture
def extension_manager(prov_home: Path) -> ExtensionManager:  # noqa: ARG001 - isolation first
    """A fresh :class:`ExtensionManager` over the installed plugins."""
    from provisioning_core.extensions import ExtensionManager

    return ExtensionManager()


@pytest.fixture
def prov(prov_home: Path) -> ProvRunner:  # noqa: ARG001 - isolation first
    """``prov(*args, input=None)`` runs the CLI in process; returns a :class:`ProvResult`."""
    return run_prov
