"""The reliability suite: each promise of robustness turned into figures.

Run with ``nox -s reliability`` (CI runs it); the figures (inputs tried, runs
killed, writers) are printed in the terminal summary, as ``figure(...)``
records them.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.cli.conftest import prov  # noqa: F401 - the CLI in process, for the suite too

_FIGURES: list[str] = []


def figure(text: str) -> None:
    """Record one figure for the summary printed at the end of the run."""
    _FIGURES.append(text)


@pytest.fixture
def figures() -> Callable[[str], None]:
    return figure


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _FIGURES:
        terminalreporter.section("reliability figures")
        for line in _FIGURES:
            terminalreporter.write_line(line)
