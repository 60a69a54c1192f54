"""Whole commands: ``prov`` in a fresh process, and fleet creates through the engine.

Two sections, each compared with a baseline measured in the same run:

- ``cli``: ``prov --help`` and ``prov server list --provider X`` as new
  processes, with 200 provider plugins installed and with 8, against
  ``python -c "import click"``; the same list without the import deadline
  (``import_timeout = 0``) for the deadline's cost, and ``prov plugin
  validate`` for the import probe's.
- ``ops``: 100 creates through the real engine and inventory against the
  ``recording`` fixture provider with 100 ms of latency at parallelism 10,
  against the ideal 100 / 10 x 100 ms; and 10 creates at parallelism 1 for
  the overhead of one create.

Imported by run.py only after PROV_HOME points at a temporary directory.
Every subprocess gets its own PROV_HOME, an empty user config file and no
``PROV_*`` variables of the caller; nothing is written outside ``root``.
"""

from __future__ import annotations

import compileall
import importlib.util
import itertools
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import distgen
from cases import Report, fmt_seconds
from timing import Timing, each_round

if TYPE_CHECKING:
    from provisioning_core.config import Config

CLI_BIG, CLI_SMALL = 200, 8  # provider plugins installed
CLI_BIG_NAME, CLI_SMALL_NAME = "p0123", "p0003"
CREATE_LATENCY = 0.1  # seconds the recording provider sleeps in create_server
FLEET, FLEET_PARALLELISM = 100, 10
SERIAL = 10  # creates at parallelism 1
REPO = Path(__file__).resolve().parent.parent
RECORDING = REPO / "tests" / "fixtures" / "dists" / "recording"

# variables that would slow a child interpreter down or change what it runs
_CHILD_DROPPED = (
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PYTHONPROFILEIMPORTTIME",
    "PYTHONTRACEMALLOC",
    "PYTHONDEVMODE",
    "PYTHONVERBOSE",
    "PYTHONINSPECT",
    "PYTHONMALLOC",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONPYCACHEPREFIX",
)


def _clean_env(**extra: str) -> dict[str, str]:
    """os.environ without PROV_* and the interpreter switches above, plus ``extra``."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("PROV_") and k not in _CHILD_DROPPED
    }
    return env | extra


def _empty_config(root: Path) -> Path:
    """An empty user config file: the caller's own config must not change what is measured."""
    path = root / "empty-config.toml"
    path.touch()
    return path


# -- cli: prov in a fresh process ----------------------------------------------------


@dataclass
class _Command:
    """One command line run as a new process, with its own environment."""

    label: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    expect: str = ""  # text stdout must contain

    def check(self) -> None:
        """Run once, untimed, and fail loudly unless it worked."""
        done = subprocess.run(
            self.argv, env=self.env, cwd=self.cwd, capture_output=True, text=True, check=False
        )
        if done.returncode != 0 or self.expect not in done.stdout:
            raise RuntimeError(
                f"{self.label}: exit status {done.returncode}, "
                f"expected {self.expect!r} in its output\n"
                f"stdout: {done.stdout[-2000:]}\nstderr: {done.stderr[-2000:]}"
            )

    def __call__(self) -> None:
        code = subprocess.call(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if code != 0:
            raise RuntimeError(f"{self.label}: exit status {code} while timing")


def _scans(home: Path) -> dict[str, tuple[int, int]]:
    """The scan-cache directories under ``home``: name -> (inode, mtime)."""
    parent = home / "extensions"
    if not parent.is_dir():
        return {}
    found = {}
    for entry in parent.glob("scan-*"):
        st = entry.stat()
        found[entry.name] = (st.st_ino, st.st_mtime_ns)
    return found


def run_cli(report: Report, root: Path, *, quick: bool) -> None:
    """``prov --help`` and ``prov server list``: 200 providers, 8 providers, bare click."""
    base = root / "cli"
    sites = {"big": base / f"site-{CLI_BIG}", "small": base / f"site-{CLI_SMALL}"}
    distgen.make_site(sites["big"], CLI_BIG, 0, "clibig", providers_only=True)
    distgen.make_site(sites["small"], CLI_SMALL, 0, "clismall", providers_only=True)
    for site in sites.values():
        compileall.compile_dir(site, quiet=1)  # as pip does on install
    # with -m, the working directory is sys.path[0]: part of the scan cache's key,
    # so it must be a directory that nothing writes to
    cwd = base / "cwd"
    cwd.mkdir()
    config = _empty_config(base)
    # one PROV_HOME per site: a scan of another sys.path replaces this one's cache
    homes = {which: base / f"home-{which}" for which in sites}
    # Bytecode as after a pip install, whatever PYTHONDONTWRITEBYTECODE says (an
    # editable checkout may have none): the untimed first runs write it, into
    # a directory of ours, never next to the sources
    pycache = base / "pycache"
    envs = {
        which: _clean_env(
            PROV_HOME=str(homes[which]),
            PROV_CONFIG=str(config),
            PYTHONPATH=str(sites[which]),
            PYTHONPYCACHEPREFIX=str(pycache),
        )
        for which in sites
    }
    prov = [sys.executable, "-m", "provisioning_core"]
    list_args = ["server", "list", "--provider"]
    commands = {
        "click": _Command(
            "python -c 'import click'", [sys.executable, "-c", "import click"], envs["big"], cwd
        ),
        "help": _Command("prov --help (200)", [*prov, "--help"], envs["big"], cwd, "Commands"),
        "help.small": _Command(
            "prov --help (8)", [*prov, "--help"], envs["small"], cwd, "Commands"
        ),
        "list": _Command(
            "prov server list (200)",
            [*prov, *list_args, CLI_BIG_NAME],
            envs["big"],
            cwd,
            f"{CLI_BIG_NAME}-x",
        ),
        "list.small": _Command(
            "prov server list (8)",
            [*prov, *list_args, CLI_SMALL_NAME],
            envs["small"],
            cwd,
            f"{CLI_SMALL_NAME}-x",
        ),
        "list.nodeadline": _Command(
            "prov server list (8), import_timeout = 0",
            [*prov, *list_args, CLI_SMALL_NAME],
            envs["small"] | {"PROV_ORCHESTRATOR__EXTENSIONS__IMPORT_TIMEOUT": "0"},
            cwd,
            f"{CLI_SMALL_NAME}-x",
        ),
        "validate.small": _Command(
            "prov plugin validate (8), with its import probe",
            [*prov, "plugin", "validate", CLI_SMALL_NAME],
            envs["small"],
            cwd,
            "interface",
        ),
        "list.table": _Command(
            "prov server list -o table (200)",
            [*prov, *list_args, CLI_BIG_NAME, "-o", "table"],
            envs["big"],
            cwd,
            f"{CLI_BIG_NAME}-x",
        ),
    }
    # the first run of each builds the scan cache and writes the bytecode
    for command in commands.values():
        command.check()
    warm = {which: _scans(home) for which, home in homes.items()}
    timings = dict(
        zip(commands, each_round(list(commands.values()), n=5 if quick else 12), strict=True)
    )
    reused = all(_scans(home) == warm[which] and warm[which] for which, home in homes.items())
    cache_note = (
        "scan cache warmed by one untimed run, reused by every timed run"
        if reused
        else "scan cache NOT reused: some timed runs rescanned"
    )
    report.meta["cli"] = {
        "sites": f"{CLI_BIG} / {CLI_SMALL} provider plugin dists, on PYTHONPATH",
        "command": f"{sys.executable} -m provisioning_core ...",
        "bytecode": "PYTHONPYCACHEPREFIX in the run's temporary directory, written by the "
        "untimed first runs",
        "scan_cache_reused": reused,
    }
    report.time("cli.click", "python -c 'import click' (baseline)", timings["click"])
    report.time("cli.help", f"prov --help, fresh process ({CLI_BIG} providers)", timings["help"])
    report.time(
        "cli.help.small",
        f"prov --help, fresh process ({CLI_SMALL} providers)",
        timings["help.small"],
    )
    report.time(
        "cli.list",
        f"prov server list --provider {CLI_BIG_NAME} ({CLI_BIG})",
        timings["list"],
        note=cache_note,
    )
    report.time(
        "cli.list.small",
        f"prov server list --provider {CLI_SMALL_NAME} ({CLI_SMALL})",
        timings["list.small"],
    )
    report.time(
        "cli.list.nodeadline",
        f"prov server list --provider {CLI_SMALL_NAME} ({CLI_SMALL}), import_timeout = 0",
        timings["list.nodeadline"],
        note="the import in the calling thread: no deadline, the import markers still written",
    )
    report.time(
        "cli.validate.small",
        f"prov plugin validate {CLI_SMALL_NAME} ({CLI_SMALL}), for information",
        timings["validate.small"],
        note="includes the import probe: one more interpreter importing the core and the plugin",
    )
    report.time(
        "cli.list.table",
        f"prov server list ... -o table ({CLI_BIG}), for information",
        timings["list.table"],
        note="what a terminal gets; the rows above print JSON (stdout is not a terminal)",
    )
    ratios = [
        ("ratio.cli_help_vs_click", "prov --help (200) / import click", "help", "click", 1.5),
        ("ratio.cli_help_growth", "prov --help, 200 / 8 providers", "help", "help.small", 1.15),
        (
            "ratio.cli_list_growth",
            "prov server list, 200 / 8 providers",
            "list",
            "list.small",
            1.15,
        ),
        ("ratio.cli_list_vs_click", "prov server list (200) / import click", "list", "click", 1.5),
        (
            "ratio.cli_import_deadline",
            "prov server list (8), import deadline on / off",
            "list.small",
            "list.nodeadline",
            1.05,
        ),
    ]
    for key, label, top, bottom, limit in ratios:
        report.ratio(
            key,
            label,
            f"cli.{top}",
            f"cli.{bottom}",
            at_most=limit,
            words=("ok", "OVER (informational)" if key in _INFORMATIONAL else "OVER"),
            note=_min_ratio(timings[top], timings[bottom]),
        )


# ratios reported, not judged: the deadline's cost (under 1 ms) is below the
# noise of a fresh process
_INFORMATIONAL = ("ratio.cli_list_vs_click", "ratio.cli_import_deadline")


def _min_ratio(top: Timing, bottom: Timing) -> str:
    return f"ratio of mins {top.min / bottom.min:.2f}x"


# -- ops: fleet creates through the engine ------------------------------------------


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextmanager
def _workdir(path: Path) -> Iterator[None]:
    saved = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(saved)


def _install_recording(site: Path) -> None:
    """pip-install the fixture distribution, as tests/conftest.py does."""
    for needed in ("pip", "hatchling"):
        if importlib.util.find_spec(needed) is None:
            # no build isolation and no index: the build backend must be here already
            raise RuntimeError(
                f"the ops section pip-installs {RECORDING.relative_to(REPO)} without an index "
                f"and needs {needed} in this environment: pip install {needed} "
                "(or the core's 'test' extra)"
            )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "--target",
            str(site),
            str(RECORDING),
        ],
        check=True,
        env=_clean_env(PIP_ROOT_USER_ACTION="ignore"),
    )


@dataclass
class _Fleet:
    """What one repetition of a create run measured."""

    setup: float  # Engine(load_config()) and loading the provider, fresh PROV_HOME
    wall: float  # create_servers alone


@dataclass
class _OpsRuns:
    """Every repetition: through the engine, and the plugin's hook called straight."""

    fleet: list[_Fleet] = field(default_factory=list)
    serial: list[_Fleet] = field(default_factory=list)
    plugin_fleet: list[float] = field(default_factory=list)  # walls
    plugin_serial: list[float] = field(default_factory=list)  # walls


def run_ops(report: Report, root: Path, *, quick: bool) -> None:
    """100 creates at parallelism 10, 10 at parallelism 1, and the plugin's own cost."""
    base = root / "ops"
    site, ws = base / "site", base / "ws"
    ws.mkdir(parents=True)
    _install_recording(site)
    (ws / "provisioning.toml").write_text(
        f"[providers.recording.options]\ncreate_latency = {CREATE_LATENCY}\n", encoding="utf-8"
    )
    config = _empty_config(base)
    sys.path.append(str(site))
    homes = itertools.count()

    def fresh_home() -> str:
        # hostnames must not already be in the inventory: a new PROV_HOME each time
        return str(base / f"home-{next(homes)}")

    try:
        with _workdir(ws):
            rounds = 3 if quick else 5
            runs = _OpsRuns()
            _fleet_run(fresh_home(), config, parallelism=1, count=2)  # warm-up: imports
            for _ in range(rounds):  # in turn, so drift hits all of them alike
                runs.fleet.append(_fleet_run(fresh_home(), config, FLEET_PARALLELISM, FLEET))
                runs.plugin_fleet.append(
                    _direct_run(fresh_home(), config, FLEET, FLEET_PARALLELISM)
                )
                runs.serial.append(_fleet_run(fresh_home(), config, 1, SERIAL))
                runs.plugin_serial.append(_direct_run(fresh_home(), config, SERIAL, 1))
    finally:
        while str(site) in sys.path:
            sys.path.remove(str(site))
        for name in [m for m in sys.modules if m.startswith("prov_fixture_recording")]:
            del sys.modules[name]
    _report_ops(report, runs)


def _load_config(home: str, config: Path) -> Config:
    from provisioning_core.config import load_config

    # env: no PROV_* of the caller, and the empty user config file
    return load_config(env=_clean_env(PROV_HOME=home, PROV_CONFIG=str(config)))


def _fleet_run(home: str, config: Path, parallelism: int, count: int) -> _Fleet:
    from provisioning_core.operations import Engine
    from provisioning_core.operations.servers import create_servers

    with _environment(PROV_HOME=home):
        started = time.perf_counter()
        with Engine(_load_config(home, config), parallelism=parallelism) as engine:
            # discovery (no scan cache in a new home), load, validate_config: not the creates
            engine.provider("recording")
            ready = time.perf_counter()
            result = create_servers(
                engine,
                "bench",
                provider="recording",
                plan="small",
                zone="test-1",
                count=count,
            )
            done = time.perf_counter()
    if not result.ok:
        raise RuntimeError(f"{count} creates at parallelism {parallelism} failed: {result}")
    if len(result.results) != count:
        raise RuntimeError(f"{len(result.results)} results for {count} creates")
    return _Fleet(setup=ready - started, wall=done - ready)


def _direct_run(home: str, config: Path, count: int, parallelism: int) -> float:
    """Wall time of ``count`` calls of the fixture's create_server, straight, no core.

    The same settings and configs as through the engine, on ``parallelism``
    plain threads: what the plugin alone costs, its JSON store included.
    """
    from prov_fixture_recording import recording

    from provisioning_core import ServerConfig
    from provisioning_core.operations import Engine

    with _environment(PROV_HOME=home):
        with Engine(_load_config(home, config)) as engine:
            settings = engine.provider("recording").settings
        configs = [
            ServerConfig(hostname=f"bench-{i}", plan="small", zone="test-1")
            for i in range(1, count + 1)
        ]

        def create(server: ServerConfig) -> object:
            return recording.create_server(settings=settings, config=server, check=False)

        with ThreadPoolExecutor(parallelism) as pool:
            started = time.perf_counter()
            list(pool.map(create, configs))
            return time.perf_counter() - started


def _report_ops(report: Report, runs: _OpsRuns) -> None:
    ideal = FLEET / FLEET_PARALLELISM * CREATE_LATENCY
    ms = f"{CREATE_LATENCY * 1e3:.0f} ms"
    report.time(
        "ops.setup",
        "Engine + load recording, new PROV_HOME (no scan cache)",
        Timing([r.setup for r in runs.fleet + runs.serial]),
        note="untimed in the rows below",
    )
    walls = Timing([r.wall for r in runs.fleet])
    report.time(
        "ops.create100",
        f"{FLEET} creates, {ms} latency, parallelism {FLEET_PARALLELISM}",
        walls,
        limit=1.3,
        note=f"{(walls.median - ideal) * 1e3:.0f} ms over the ideal",
    )
    report.time(
        "ops.create100.ideal",
        f"  ideal: {FLEET} / {FLEET_PARALLELISM} x {ms} (baseline)",
        Timing([ideal]),
    )
    plugin = Timing(runs.plugin_fleet)
    report.time(
        "ops.create100.plugin",
        f"  the hook alone: {FLEET} calls on {FLEET_PARALLELISM} threads, no core",
        plugin,
        note=f"{(plugin.median - ideal) * 1e3:.0f} ms over the ideal: the fixture's own cost",
    )
    report.ratio(
        "ratio.create100_vs_ideal",
        f"{FLEET} creates at parallelism {FLEET_PARALLELISM} / ideal",
        "ops.create100",
        "ops.create100.ideal",
        at_most=1.3,
        note=f"ratio of mins {walls.min / ideal:.2f}x",
    )
    report.ratio(
        "ratio.create100_vs_plugin",
        f"{FLEET} creates, engine / the hook alone",
        "ops.create100",
        "ops.create100.plugin",
        note=f"the core adds {(walls.median - plugin.median) * 1e3:.0f} ms to {FLEET} creates",
    )
    report.time(
        "ops.create10.p1",
        f"{SERIAL} creates, {ms} latency, parallelism 1",
        Timing([r.wall for r in runs.serial]),
        note=f"ideal {fmt_seconds(SERIAL * CREATE_LATENCY)}",
    )
    latency = SERIAL * CREATE_LATENCY
    per_create = Timing([(r.wall - latency) / SERIAL for r in runs.serial])
    alone = Timing([(w - latency) / SERIAL for w in runs.plugin_serial])
    report.time(
        "ops.create.overhead",
        f"  per create, parallelism 1: (wall - latency) / {SERIAL}",
        per_create,
        note=f"the core's share ~{fmt_seconds(per_create.median - alone.median)}: "
        "minus the row below",
    )
    report.time(
        "ops.create.plugin",
        "  the hook alone, per call, minus latency",
        alone,
        note="called straight: the fixture's JSON store and call log, no core",
    )
    report.meta["ops"] = {
        "fixture": str(RECORDING.relative_to(REPO)),
        "create_latency_s": CREATE_LATENCY,
        "repetitions": len(runs.fleet),
        "fleet_median_over_ideal_s": round(walls.median - ideal, 4),
    }


SECTIONS: dict[str, Callable[..., None]] = {"cli": run_cli, "ops": run_ops}
