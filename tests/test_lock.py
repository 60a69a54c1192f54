"""The lock's input names every reference plugin, so none is installed unlocked in CI."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_every_reference_plugin_is_an_input_of_the_lock():
    inputs = (REPO / "requirements" / "ci.in").read_text(encoding="utf-8").splitlines()
    plugins = sorted(
        p.name for p in (REPO / "plugins").iterdir() if (p / "pyproject.toml").is_file()
    )
    missing = [p for p in plugins if f"-e ./plugins/{p}[test]" not in inputs]
    assert not missing, (
        f"requirements/ci.in lacks {missing}: add '-e ./plugins/NAME[test]' and run nox -s lock"
    )
