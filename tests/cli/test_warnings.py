"""A library's warnings stay out of a user's screen on a normal run of ``prov``,
and show with ``-vv`` or ``--debug``; warnings the user asks for are left as asked.

The warning comes from a real directory extension that warns when imported,
as a dependency deprecating something does; ``prov`` runs as a real process,
since what it does to warnings is the process's business (``run``), never
``main``'s.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest

from provisioning_core.cli import WARNINGS_LOGGER, main

MYTASK = Path(__file__).parents[1] / "fixtures" / "dirs" / "mytask"
MESSAGE = "the old API goes away in 2.0"


@pytest.fixture
def warning_plugin(tmp_path) -> Path:
    """The ``mytask`` directory extension, its package warning at import."""
    target = tmp_path / "mytask"
    shutil.copytree(MYTASK, target)
    init = target / "mytask" / "__init__.py"
    init.write_text(
        "import warnings\n\n\nclass LibraryDeprecationWarning(UserWarning):\n    pass\n\n\n"
        f"warnings.warn({MESSAGE!r}, LibraryDeprecationWarning, stacklevel=1)\n" + init.read_text()
    )
    return target


def _validate(prov_process, plugin: Path, *options: str, env=None):
    result = prov_process(
        *options, "plugin", "validate", str(plugin), "--kind", "taskserv", env=env
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert "structure" in result.stdout, result.stdout + result.stderr  # the plugin was validated
    return result


@pytest.fixture
def no_user_warning_options(monkeypatch):
    monkeypatch.delenv("PYTHONWARNINGS", raising=False)


@pytest.mark.usefixtures("no_user_warning_options")
def test_a_library_warning_is_not_shown_on_a_normal_run(prov_process, warning_plugin):
    result = _validate(prov_process, warning_plugin)
    assert "Warning" not in result.stderr
    assert MESSAGE not in result.stdout + result.stderr


@pytest.mark.usefixtures("no_user_warning_options")
@pytest.mark.parametrize("options", [("-vv",), ("--debug",)], ids=["-vv", "--debug"])
def test_a_library_warning_is_shown_with_vv_or_debug(prov_process, warning_plugin, options):
    result = _validate(prov_process, warning_plugin, *options)
    shown = [line for line in result.stderr.splitlines() if f"Warning: {MESSAGE}" in line]
    assert len(shown) == 1, result.stderr  # once, as one log record
    assert f"DEBUG {WARNINGS_LOGGER}: " in shown[0]
    assert f"LibraryDeprecationWarning: {MESSAGE}" in shown[0]


@pytest.mark.usefixtures("no_user_warning_options")
def test_prov_debug_shows_warnings_but_not_every_hook_call(prov_process, warning_plugin):
    result = _validate(prov_process, warning_plugin, env={"PROV_DEBUG": "1"})
    assert f"LibraryDeprecationWarning: {MESSAGE}" in result.stderr
    assert "provisioning.calls" not in result.stderr


def test_warnings_the_user_asked_for_are_left_as_asked(prov_process, warning_plugin):
    result = _validate(prov_process, warning_plugin, env={"PYTHONWARNINGS": "default"})
    assert f"LibraryDeprecationWarning: {MESSAGE}" in result.stderr
    assert WARNINGS_LOGGER not in result.stderr  # Python's own display, not our log


def test_main_in_process_leaves_the_callers_warning_policy_alone(installed, capsys):
    """A program (or this test suite) calling ``main`` keeps its own handling of warnings."""
    before = warnings.showwarning
    with pytest.raises(SystemExit):
        main(["plugin", "list", "-o", "json"])
    capsys.readouterr()
    assert warnings.showwarning is before
