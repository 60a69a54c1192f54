"""Broken plugins: one that ends, hangs, exhausts or floods its host is named, and the rest works.

Every run is a real ``prov`` process (``python -m provisioning_core``) with a
timeout and an address-space limit (RLIMIT_AS), so a plugin that eats memory
meets a MemoryError instead of the machine's memory; each test checks that
no process it started is left running.  The hostile plugins
(tests/fixtures/hostile) are installed next to every fixture distribution, in
a site of their own: no other test sees them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest

from tests.cli.conftest import process_env
from tests.conftest import DISTS, FIXTURES, pip_install

HOSTILE = FIXTURES / "hostile"
DIST = "prov-fixture-hostile 1.0.0"
IMPORT_TIMEOUT = 2
HOOK_TIMEOUT = 2
#: the address space of every prov run, and of its probe (MiB)
PROV_MEMORY = 1024
PROBE_MEMORY = 512
#: for the memory hogs: filling the limit takes seconds on a busy machine, and
#: they must meet the limit, not the deadline
ROOM = {
    "PROV_ORCHESTRATOR__EXTENSIONS__IMPORT_TIMEOUT": "60",
    "PROV_OPERATIONS__HOOK_TIMEOUT": "60",
}
#: how long any one prov run may take before the test fails (and kills it)
RUN_TIMEOUT = 90

# the limit is set in the child before it becomes prov, so that it covers prov
# and everything it starts
_LIMITED = (
    "import os, resource, sys; size = int(sys.argv[1]) << 20; "
    "resource.setrlimit(resource.RLIMIT_AS, (size, size)); "
    "os.execv(sys.executable, [sys.executable, '-m', 'provisioning_core', *sys.argv[2:]])"
)


@attrs.frozen
class Run:
    exit_code: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)


@pytest.fixture(scope="session")
def hostile_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every fixture distribution and the hostile one, pip-installed into one site."""
    site = tmp_path_factory.mktemp("hostile-site")
    pip_install(site, *sorted(p for p in DISTS.iterdir() if p.is_dir()), HOSTILE)
    return site


def _ours(prov_home: Path) -> list[int]:
    """The processes still running with this test's PROV_HOME in their environment."""
    mark = f"PROV_HOME={prov_home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if mark in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.fixture
def prov_run(hostile_site: Path, prov_home: Path) -> Iterator[Callable[..., Run]]:
    """``prov_run(*args)``: a real, memory-limited prov process with the hostile site."""
    settings = {
        "PROV_ORCHESTRATOR__EXTENSIONS__IMPORT_TIMEOUT": str(IMPORT_TIMEOUT),
        "PROV_ORCHESTRATOR__EXTENSIONS__PROBE_MEMORY_MB": str(PROBE_MEMORY),
        "PROV_OPERATIONS__HOOK_TIMEOUT": str(HOOK_TIMEOUT),
    }

    def run(*args: str, env: dict[str, str] | None = None) -> Run:
        with subprocess.Popen(
            [sys.executable, "-c", _LIMITED, str(PROV_MEMORY), *args],
            env=process_env(hostile_site, {**settings, **(env or {})}),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        ) as proc:
            try:
                out, err = proc.communicate(timeout=RUN_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
                raise AssertionError(
                    f"prov {' '.join(args)} did not end within {RUN_TIMEOUT} s"
                ) from None
        return Run(proc.returncode, out, err)

    yield run
    left = _ours(prov_home)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"processes left running: {left}"


def _named(run: Run, name: str, what: str, code: int = 1) -> None:
    assert run.exit_code == code, (run.exit_code, run.stderr)
    assert f"provider {name!r} ({DIST})" in run.stderr, run.stderr
    assert what in run.stderr, run.stderr
    assert "Traceback" not in run.stderr


HOSTILE_NAMES = {
    "exits-hard",
    "loops",
    "sleeps",
    "recurses-import",
    "recurses",
    "hogs-memory",
    "greedy",
    "hangs",
}


def test_plugin_list_works_with_every_hostile_plugin_installed(prov_run, figures):
    listed = prov_run("plugin", "list", "-o", "json")
    assert listed.exit_code == 0, listed.stderr
    rows = {r["name"]: r for r in listed.json()["plugins"]}
    assert set(rows) >= HOSTILE_NAMES
    assert {rows[n]["status"] for n in HOSTILE_NAMES} == {"ok"}  # metadata only: nothing ran
    # and after one of them has ended a run and been refused
    prov_run("server", "list", "-p", "exits-hard")
    prov_run("server", "list", "-p", "exits-hard")
    again = prov_run("plugin", "list", "-o", "json")
    assert again.exit_code == 0, again.stderr
    (row,) = [r for r in again.json()["plugins"] if r["name"] == "exits-hard"]
    (warning,) = row["warnings"]
    assert warning.startswith("refused without being imported: it exited with code 3 while")
    assert warning.endswith("; prov plugin validate exits-hard probes it again")
    assert prov_run("plugin", "list").exit_code == 0
    figures(f"broken plugins: prov plugin list with {len(HOSTILE_NAMES)} hostile plugins: exit 0")


IMPORT_CULPRITS = [
    ("loops", f"did not finish importing within {IMPORT_TIMEOUT} s and was abandoned"),
    ("sleeps", f"did not finish importing within {IMPORT_TIMEOUT} s and was abandoned"),
    ("recurses-import", "RecursionError: maximum recursion depth exceeded"),
    ("hogs-memory", "ran out of memory while importing 'prov_fixture_hostile.hogs_memory'"),
]


@pytest.mark.parametrize(("name", "what"), IMPORT_CULPRITS)
def test_a_plugin_that_hangs_recurses_or_hogs_at_import_is_named(prov_run, figures, name, what):
    env = ROOM if name == "hogs-memory" else None
    _named(prov_run("server", "list", "-p", name, env=env), name, what)
    # the next command, with another provider, is not affected
    assert prov_run("server", "list", "-p", "fixture").exit_code == 0
    figures(f"broken plugins: {name} at import in prov: exit 1, {what!r}")


def test_os_exit_at_import_ends_one_run_then_is_named_and_refused(prov_run, figures):
    # os._exit in the importing process cannot be caught: that run ends with
    # the plugin's code, without a word (the documented limit)
    first = prov_run("server", "list", "-p", "exits-hard")
    assert first.exit_code == 3
    # the marker it left names the plugin: the next run probes it and refuses it
    second = prov_run("server", "list", "-p", "exits-hard")
    _named(second, "exits-hard", "was refused without being imported: it exited with code 3")
    assert "prov plugin validate exits-hard" in second.stderr
    third = prov_run("server", "list", "-p", "exits-hard")
    _named(third, "exits-hard", "was refused without being imported")
    assert prov_run("server", "list", "-p", "fixture").exit_code == 0
    figures("broken plugins: os._exit(3) at import: first run exit 3, then exit 1 refused by name")


VALIDATE_CULPRITS = [
    ("exits-hard", "exited with code 3 while importing"),
    ("loops", f"did not finish importing within {IMPORT_TIMEOUT} s (in a probe process"),
    ("sleeps", f"did not finish importing within {IMPORT_TIMEOUT} s (in a probe process"),
    ("recurses-import", "raised RecursionError while importing"),
    (
        "hogs-memory",
        (
            "ran out of memory while importing 'prov_fixture_hostile.hogs_memory' (MemoryError) "
            f"in a probe process limited to {PROBE_MEMORY} MiB"
        ),
    ),
]


@pytest.mark.parametrize(("name", "what"), VALIDATE_CULPRITS)
def test_validate_probes_the_import_in_a_bounded_process(prov_run, figures, name, what):
    env = ROOM if name == "hogs-memory" else None
    report = prov_run("plugin", "validate", name, env=env)
    assert report.exit_code == 1, report.stderr
    assert f"error: interface: provider {name!r} ({DIST}) {what}" in report.stderr, report.stderr
    assert "Traceback" not in report.stderr
    assert "interface   failed" in report.stdout
    as_json = prov_run("plugin", "validate", name, "-o", "json", env=env)
    assert as_json.exit_code == 1
    assert not as_json.json()["valid"]
    figures(f"broken plugins: prov plugin validate {name}: exit 1, {what!r}")


def test_what_a_probe_found_refuses_the_plugin_before_import(prov_run):
    assert prov_run("plugin", "validate", "exits-hard").exit_code == 1
    # known to end its importer: refused at once, no run ends with its code
    refused = prov_run("server", "list", "-p", "exits-hard")
    _named(refused, "exits-hard", "was refused without being imported: it exited with code 3")
    assert prov_run("plugin", "validate", "hogs-memory", env=ROOM).exit_code == 1
    _named(
        prov_run("server", "list", "-p", "hogs-memory"),
        "hogs-memory",
        "was refused without being imported: it ran out of memory",
    )


@pytest.mark.parametrize(
    ("name", "what"),
    [
        ("exits-hard", "cannot be tested: it exited with code 3 while importing"),
        ("loops", f"cannot be tested: it did not finish importing within {IMPORT_TIMEOUT} s"),
    ],
)
def test_plugin_test_probes_before_the_suite_runs(prov_run, figures, name, what):
    _named(prov_run("plugin", "test", name), name, what)
    figures(f"broken plugins: prov plugin test {name}: exit 1, {what!r}")


HOOK_CULPRITS = [
    (("server", "list", "-p", "greedy"), "greedy", "list_servers returned a generator"),
    (("server", "zones", "-p", "greedy"), "greedy", "get_zones returned None"),
    (
        ("server", "plans", "-p", "greedy"),
        "greedy",
        "get_plans returned 1,000,000 items, more than the 100,000 a result may hold",
    ),
    (("server", "pricing", "-p", "greedy"), "greedy", "get_pricing raised MemoryError"),
    (("server", "list", "-p", "recurses"), "recurses", "list_servers raised RecursionError"),
    (
        ("server", "list", "-p", "hangs"),
        "hangs",
        f"list_servers did not return within {HOOK_TIMEOUT} s and was abandoned",
    ),
]


@pytest.mark.parametrize(("args", "name", "what"), HOOK_CULPRITS)
def test_a_hook_that_floods_recurses_or_hangs_is_named(prov_run, figures, args, name, what):
    _named(prov_run(*args, env=ROOM if "pricing" in args else None), name, what)
    figures(f"broken plugins: prov {' '.join(args)}: exit 1, {what!r}")


_ONE_PROCESS = """
import json, sys
from provisioning_core import ExtensionManager, ProvisioningError
manager = ExtensionManager(import_timeout=float(sys.argv[1]))
said = {}
for name in ["loops", "sleeps", "recurses-import", "sleeps", "fixture"]:
    try:
        ext = manager.load_extension("provider", name)
    except ProvisioningError as exc:
        said.setdefault(name, []).append(exc.message)
    else:
        said[name] = ext.call("list_servers", settings=None)
print(json.dumps(said))
"""


def test_other_providers_keep_working_in_the_same_process(hostile_site, prov_home, figures):
    with subprocess.Popen(
        [sys.executable, "-c", _ONE_PROCESS, "1"],
        env=process_env(hostile_site),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            out, err = proc.communicate(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
    assert proc.returncode == 0, err
    said = json.loads(out)
    assert "did not finish importing within 1 s" in said["loops"][0]
    assert "did not finish importing within 1 s" in said["sleeps"][0]
    # the abandoned import still sleeps: a second attempt is refused at once
    assert "is still being imported by an earlier attempt" in said["sleeps"][1]
    assert "RecursionError" in said["recurses-import"][0]
    assert said["fixture"] == []
    assert not _ours(prov_home)
    figures("broken plugins: after 4 failed imports in one process, another provider worked")
