"""The README's main job, command by command, as a user runs it: the installed
``prov`` as a real process each time. Each succeeds and prints no warning at
all, whatever the installed libraries deprecate (issue: cryptography 51
deprecating DSA made asyncssh warn on every command that used SSH).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[3] / "README.md"


def main_job() -> list[list[str]]:
    """The ``prov`` commands of README.md's main command, in order, as argv lists."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = lines.index("<!-- main-command -->") + 2  # past the ```bash fence
    command = lines[start]
    steps = [shlex.split(part) for part in command.split("&&")]
    return [step[1:] for step in steps if step and Path(step[0]).name == "prov"]


def test_the_readme_main_job_is_what_this_test_runs() -> None:
    assert [step[:2] for step in main_job()] == [
        ["server", "create"],
        ["taskserv", "install"],
        ["taskserv", "status"],
        ["server", "delete"],
    ]


def test_the_main_job_succeeds_and_prints_no_warning(settings: Callable[..., None]) -> None:
    settings()  # my-service on free ports: another run may have a sandbox on 8080
    prov = Path(sys.executable).with_name("prov")  # the console script, as installed
    assert prov.is_file(), f"no prov console script beside {sys.executable}"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    for step in main_job():
        done = subprocess.run(
            [str(prov), *step], capture_output=True, text=True, env=env, timeout=300, check=False
        )
        where = f"`prov {shlex.join(step)}` exited {done.returncode}\n{done.stdout}\n{done.stderr}"
        assert done.returncode == 0, where
        assert "warning" not in done.stderr.lower(), where
        if step[:2] == ["taskserv", "status"]:
            row = next(
                line.split() for line in done.stdout.splitlines() if line.startswith("web-1")
            )
            assert row[1:4] == ["True", "True", "True"], where  # installed, running, healthy


@pytest.fixture(autouse=True)
def _readme_present() -> None:
    assert README.is_file(), f"these tests read the repository's {README}"
