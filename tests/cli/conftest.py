"""Running ``prov`` in process (through its real ``main``) and as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner

from provisioning_core.cli import main


@attrs.frozen
class Run:
    exit_code: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture
def prov(installed) -> Callable[..., Run]:
    """``prov(*args)`` runs the CLI's real entry point in process and captures it."""

    def run(*args: str, env: dict[str, str] | None = None) -> Run:
        runner = CliRunner()
        with runner.isolation(env=env) as (out, err, _):
            try:
                main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            else:  # pragma: no cover - main always exits
                code = 0
            return Run(code, out.getvalue().decode(), err.getvalue().decode())

    return run


@pytest.fixture
def prov_process(installed, prov_home) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``prov_process(*args)`` runs ``python -m provisioning_core`` as a real process."""

    def run(
        *args: str, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "provisioning_core", *args],
            env=process_env(installed, env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run


# A shell starts background jobs with SIGINT ignored, and a process started
# with SIGINT ignored keeps ignoring it (Python installs no handler then): the
# child would never see the Ctrl-C sent to it. It resets SIGINT, then becomes
# prov, as a command typed at a terminal starts.
_AS_AT_A_TERMINAL = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.executable, [sys.executable, '-m', 'provisioning_core', *sys.argv[1:]])"
)


def popen_prov(site: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``prov ARGS`` started as at a terminal (Ctrl-C reaches it), its output piped."""
    return subprocess.Popen(
        [sys.executable, "-c", _AS_AT_A_TERMINAL, *args],
        env=process_env(site, env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def process_env(site: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a child ``prov``: this one, with the fixture site on its path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(extra or {})
    return env


@pytest.fixture
def workspace(tmp_path) -> Callable[[str], Path]:
    """``workspace(toml)`` writes the provisioning.toml of the test's working directory."""

    def write(text: str) -> Path:
        path = Path.cwd() / "provisioning.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


def calls(prov_home: Path, name: str = "recording") -> list[dict]:
    """The hook calls the recording fixture plugin ``name`` logged."""
    log = prov_home / "recording" / f"{name}.json.calls.jsonl"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


FAST = """
[operations]
wait_interval = 0.05
retry_base_delay = 0.01
retry_max_delay = 0.05
"""
