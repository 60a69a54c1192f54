"""The plugin author kit: what its pytest plugin costs, and ``prov plugin new``.

Two comparisons, each against a baseline measured in the same run, in fresh
processes taken in turn (``each_round``):

- pytest's start-up and a one-test run with the core's pytest11 plugin
  (``provisioning``, loaded in every pytest run of an environment holding the
  core) against the same run with ``-p no:provisioning``: what every project
  that merely has provisioning-core installed pays;
- ``prov plugin new provider NAME`` (render and write a package) against
  ``prov --help`` (the CLI's own start-up).

Imported by run.py only after PROV_HOME points at a temporary directory.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from cases import Report
from cli_cases import _clean_env, _Command, _empty_config
from timing import each_round


def run_author(report: Report, root: Path, *, quick: bool) -> None:
    """pytest with and without the core's plugin; prov plugin new against prov --help."""
    base = root / "author"
    project = base / "project"
    project.mkdir(parents=True)
    (project / "test_one.py").write_text("def test_one():\n    assert True\n", encoding="utf-8")
    env = _clean_env(PROV_HOME=str(base / "home"), PROV_CONFIG=str(_empty_config(base)))
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_one.py"]
    with_plugin = _Command("pytest, core plugin loaded", pytest, env, project, expect="1 passed")
    without = _Command(
        "pytest -p no:provisioning",
        [*pytest, "-p", "no:provisioning"],
        env,
        project,
        expect="1 passed",
    )
    for command in (with_plugin, without):
        command.check()
    n = 5 if quick else 15
    loaded, bare = each_round([with_plugin, without], n=n)
    report.time("author.pytest.plugin", "pytest, one test, core's pytest11 plugin loaded", loaded)
    report.time("author.pytest.bare", "pytest, one test, -p no:provisioning (baseline)", bare)
    report.ratio(
        "ratio.pytest_plugin",
        "pytest with the core's plugin / without",
        "author.pytest.plugin",
        "author.pytest.bare",
        at_most=1.1,
        words=("cheap", "COSTLY"),
        note="paid by every pytest run in an environment holding provisioning-core",
    )

    prov = [sys.executable, "-m", "provisioning_core"]
    help_command = _Command("prov --help", [*prov, "--help"], env, base, expect="Usage")
    out = base / "generated"
    out.mkdir()
    new = _NewPlugin([*prov, "plugin", "new", "provider"], env, out)
    help_command.check()
    new_timing, help_timing = each_round([new, help_command], n=n)
    report.time("author.new", "prov plugin new provider NAME, fresh process", new_timing)
    report.time("author.help", "prov --help, fresh process (baseline)", help_timing)
    report.ratio(
        "ratio.plugin_new",
        "prov plugin new / prov --help",
        "author.new",
        "author.help",
        note=f"{len(new.files)} files written per package",
    )


class _NewPlugin:
    """``prov plugin new provider pN`` with a fresh name on every call (a name is used once)."""

    def __init__(self, argv: list[str], env: dict[str, str], out: Path) -> None:
        self.argv, self.env, self.out = argv, env, out
        self.names = (f"bench{i}" for i in itertools.count())
        self.files: list[str] = []

    def __call__(self) -> None:
        name = next(self.names)
        done = subprocess.run(
            [*self.argv, name, "--dir", str(self.out), "-o", "json"],
            env=self.env,
            cwd=self.out,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"prov plugin new exited {done.returncode}: {done.stderr[-2000:]}")
        if not self.files:
            import json

            self.files = json.loads(done.stdout)["files"]


SECTIONS: dict[str, Callable[..., None]] = {"author": run_author}
