"""``prov plugin test NAME``: run the conformance suite on an installed plugin.

The plugin declares where its tests reach a backend by naming a subclass of
its kind's conformance class under the ``provisioning.conformance`` entry
point (same name as the extension, same distribution).  Without one the
kind's bare class runs, with default settings, and the user is warned.  The
suite runs in a pytest subprocess, so a plugin that crashes or hangs the
interpreter cannot take ``prov`` with it, and its JUnit report is what the
summary is built from.
"""

from __future__ import annotations

import collections
import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import attrs
from packaging.utils import canonicalize_name

from provisioning_core.discovery import Discovery
from provisioning_core.errors import ExtensionLoadError, InputError, ProvisioningError
from provisioning_core.extensions import ExtensionManager
from provisioning_core.models import DiscoveredExtension, ExtensionType
from provisioning_core.operations.plugins import find_one

__all__ = ["CONFORMANCE_GROUP", "SuiteRun", "run_conformance"]

CONFORMANCE_GROUP = "provisioning.conformance"
_BASES = {
    ExtensionType.PROVIDER: ("ProviderConformance", "provider"),
    ExtensionType.TASKSERV: ("TaskservConformance", "taskserv"),
    ExtensionType.CLUSTER: ("ClusterConformance", "cluster"),
}
#: pytest's exit codes (pytest.ExitCode, not imported: pytest may be absent)
_TESTS_FAILED = 1
_USAGE_ERROR = 4
_NO_TESTS = 5
#: lines of pytest's output kept for an error message
_TAIL = 30


@attrs.frozen
class SuiteRun:
    """What one conformance run found."""

    name: str
    kind: str
    environment: str | None
    exit_code: int
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    failures: list[dict[str, str]] = attrs.Factory(list)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def verdict(self) -> str:
        """ "conforms", "breaks the contract" (a test failed) or "could not be tested"."""
        if self.ok:
            return "conforms"
        if self.exit_code == _TESTS_FAILED and self.failed:
            return "breaks the contract"
        return "could not be tested"


def run_conformance(
    name: str,
    kind: str | None = None,
    *,
    pytest_args: Sequence[str] = (),
    echo: Callable[[str], None] | None = None,
    timeout: float | None = None,
    manager: ExtensionManager | None = None,
) -> SuiteRun:
    """Run the conformance suite of ``kind`` on the installed plugin ``name``.

    ``echo`` receives pytest's output line by line as it runs (None: kept
    quiet).  After ``timeout`` seconds the run is killed: a plugin whose hook
    hangs must not hang ``prov``.  Arguments pytest refuses, or a selection
    that matches no test, are an :class:`InputError`.  With ``manager``, the
    plugin is first imported in its probe (:meth:`ExtensionManager.probe`):
    a plugin that exits, hangs or fails at import is an
    :class:`ExtensionLoadError` saying so, before any test runs.
    """
    if importlib.util.find_spec("pytest") is None:
        raise InputError(
            "prov plugin test needs pytest, which is not installed in this environment",
            hint="pip install pytest (or provisioning-core[test]) next to prov",
        )
    found = find_one(Discovery(), name, kind)
    if found.status != "ok":
        raise InputError(
            f"{found.kind.value} {found.name!r} cannot be tested: {found.status}: {found.reason}",
            hint="prov plugin validate NAME says what to fix",
        )
    if manager is not None:
        failure = manager.probe(found)
        if failure is not None:
            raise ExtensionLoadError(
                f"cannot be tested: it {failure.what}",
                kind=found.kind.value,
                name=found.name,
                distribution=found.distribution,
                version=found.version,
                hint=f"prov plugin validate {found.name} says more; fix or upgrade it"
                + (f" (pip install -U {found.distribution})" if found.distribution else ""),
            )
    environment = _environment(found)
    with tempfile.TemporaryDirectory(prefix="prov-plugin-test-") as tmp:
        directory = Path(tmp)
        module = directory / "test_conformance.py"
        module.write_text(_test_module(found, environment), encoding="utf-8")
        report = directory / "report.xml"
        command = [
            sys.executable,
            "-m",
            "pytest",
            str(module),
            f"--junitxml={report}",
            "--rootdir",
            str(directory),
            "-p",
            "no:cacheprovider",
            "-o",
            "console_output_style=classic",
            "-rfEs",
            *pytest_args,
        ]
        exit_code, tail = _run(command, directory, echo, timeout, found)
        counts, failures = _read_report(report)
    if exit_code == _USAGE_ERROR:
        raise InputError(
            f"pytest refused the arguments given after --: {' '.join(pytest_args)}",
            problems=[line for line in tail if "error" in line.lower()][-3:],
            hint="pass pytest options after --, e.g. prov plugin test NAME -- -x -k lifecycle",
        )
    if exit_code == _NO_TESTS and pytest_args:
        raise InputError(
            f"no conformance test of {found.name!r} matched {' '.join(pytest_args)}",
            hint="prov plugin test NAME -- --collect-only lists the tests",
        )
    if exit_code == _NO_TESTS:
        exit_code = _TESTS_FAILED  # a suite that ran nothing proves nothing
    if exit_code != 0 and not failures:
        failures = [{"test": "(the run)", "message": "\n".join(tail[-_TAIL:])}]
    return SuiteRun(
        found.name,
        found.kind.value,
        environment,
        exit_code,
        counts.get("passed", 0),
        counts.get("failed", 0),
        counts.get("skipped", 0),
        failures,
    )


def _environment(found: DiscoveredExtension) -> str | None:
    """The declared conformance class of ``found``'s own distribution, if any."""
    for ep in entry_points(group=CONFORMANCE_GROUP, name=found.name):
        owner = getattr(ep, "dist", None)
        if owner is None or found.distribution is None:
            continue
        if canonicalize_name(owner.name) == canonicalize_name(found.distribution):
            return str(ep.value)
    return None


def _test_module(found: DiscoveredExtension, environment: str | None) -> str:
    base, attribute = _BASES[found.kind]
    if environment is None:
        return (
            f"from provisioning_core.testing import {base}\n\n\n"
            f"class TestConformance({base}):\n"
            f"    {attribute} = {found.name!r}\n"
        )
    module, _, cls = environment.partition(":")
    if not cls:
        raise InputError(
            f"the {CONFORMANCE_GROUP} entry point of {found.name!r} is {environment!r}, "
            "not module:Class",
            hint=f'declare it as {found.name} = "package.testing:Conformance" in pyproject.toml',
        )
    # a class of another kind's suite would test the wrong contract: refuse it by name
    return (
        f"from provisioning_core.testing import {base}\n"
        f"from {module} import {cls} as Declared\n\n"
        f"if not issubclass(Declared, {base}):\n"
        f"    raise TypeError({environment!r} + ' is not a {base}: the "
        f"{CONFORMANCE_GROUP} entry point of {found.kind.value} {found.name} "
        f"must name a subclass of {base}')\n\n\n"
        "class TestConformance(Declared):\n"
        f"    {attribute} = {found.name!r}\n"
    )


def _run(
    command: list[str],
    cwd: Path,
    echo: Callable[[str], None] | None,
    timeout: float | None,
    found: DiscoveredExtension,
) -> tuple[int, list[str]]:
    """pytest's exit code and the last lines it printed; killed past ``timeout``."""
    env = dict(os.environ)
    env.pop("PYTEST_ADDOPTS", None)  # the user's defaults for their own project do not apply
    tail: collections.deque[str] = collections.deque(maxlen=_TAIL)
    with subprocess.Popen(  # noqa: S603 - our interpreter running pytest on our own module
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,  # its own process group: a timeout kills what it started
    ) as process:
        timer = _watchdog(process, timeout)
        try:
            assert process.stdout is not None
            for line in process.stdout:
                tail.append(line.rstrip("\n"))
                if echo is not None:
                    echo(line.rstrip("\n"))
            code = process.wait()
        finally:
            if timer is not None:
                timer.cancel()
    if timer is not None and timer.fired:
        raise ProvisioningError(
            f"the conformance suite of {found.kind.value} {found.name!r} did not finish "
            f"within {timeout:g} s and was stopped",
            hint="a hook may hang: run prov plugin test NAME -- -x -v to see which test, "
            "or give more time with --timeout",
        )
    return code, list(tail)


class _Watchdog(threading.Timer):
    """A timer that remembers whether it went off."""

    fired = False


def _watchdog(process: subprocess.Popen[str], timeout: float | None) -> _Watchdog | None:
    """Kill ``process`` and everything in its group after ``timeout`` seconds."""
    if timeout is None:
        return None

    def kill() -> None:
        timer.fired = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)

    timer = _Watchdog(timeout, kill)
    timer.daemon = True
    timer.start()
    return timer


def _read_report(report: Path) -> tuple[dict[str, int], list[dict[str, str]]]:
    if not report.exists():
        return {}, []
    root = ET.parse(report).getroot()  # noqa: S314 - written by our own pytest run
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    failures = []
    for case in root.iter("testcase"):
        problem = next((c for c in case if c.tag in {"failure", "error"}), None)
        if problem is not None:
            counts["failed"] += 1
            failures.append(
                {
                    "test": case.get("name", "?"),
                    "message": _problem_message(problem.get("message") or "", problem.text or ""),
                }
            )
        elif any(c.tag == "skipped" for c in case):
            counts["skipped"] += 1
        else:
            counts["passed"] += 1
    return counts, failures


def _problem_message(message: str, text: str) -> str:
    """JUnit's one-line message, with the error itself when it only says "collection failure"."""
    errors = [line[2:].strip() for line in text.splitlines() if line.startswith("E ")]
    if errors and errors[-1] not in message:
        return f"{message.strip()}: {errors[-1]}" if message.strip() else errors[-1]
    return (message or text).strip()


def summary(run: SuiteRun) -> dict[str, Any]:
    """``run`` as the JSON ``prov plugin test -o json`` prints."""
    return {**attrs.asdict(run), "ok": run.ok, "verdict": run.verdict}
