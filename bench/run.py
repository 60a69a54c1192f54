"""Benchmarks of the hot paths (discovery, resolve, load, dispatch), whole commands, the runtime.

Run ``python bench/run.py`` (or ``nox -s bench``); ``--json PATH`` also writes
the results as JSON, ``--quick`` takes fewer samples, ``--profile`` prints
where the time goes, ``--only`` picks sections.  Numbers and ratios only:
nothing here fails on a timing, and the exit status is 0 whatever the numbers
say.  See README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# variables that would change what discovery finds or how it caches
_NEUTRALISED = ("PROV_NO_SCAN_CACHE", "PROV_LOAD_PLUGINS", "PROV_DISABLE_PLUGINS", "PROV_STRICT")
# hot: the in-process hot paths (cases.py); cli and ops: whole commands (cli_cases.py);
# runtime: commands, steps and downloads over SSH (runtime_cases.py);
# author: the pytest plugin's cost and prov plugin new (author_cases.py);
# upcloud: the upcloud provider against its emulator (upcloud_cases.py);
# aws: the aws provider against moto's server (aws_cases.py);
# api: prov serve against a bare hello-world of the same framework (api_cases.py)
SECTIONS = ("hot", "cli", "ops", "runtime", "author", "upcloud", "aws", "api")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="PATH", type=Path, help="also write results as JSON")
    parser.add_argument("--quick", action="store_true", help="fewer samples (noisier numbers)")
    parser.add_argument("--profile", action="store_true", help="print cProfile summaries too")
    parser.add_argument(
        "--only",
        action="append",
        choices=SECTIONS,
        metavar="SECTION",
        help="run only this section (repeatable): hot (discovery, resolve, load, dispatch), "
        "cli (prov in a fresh process), ops (100 creates through the engine), "
        "runtime (commands, steps and downloads over SSH), "
        "author (the pytest plugin's cost, prov plugin new), "
        "upcloud (the upcloud provider against its emulator), "
        "aws (the aws provider against moto's server), "
        "api (prov serve against a bare FastAPI hello-world); default: all",
    )
    args = parser.parse_args(argv)
    args.only = [s for s in SECTIONS if s in (args.only or SECTIONS)]
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    root = Path(tempfile.mkdtemp(prefix="prov-bench-"))
    saved = {v: os.environ.get(v) for v in ("PROV_HOME", *_NEUTRALISED)}
    # before anything of the core runs: all state goes to the temporary directory
    os.environ["PROV_HOME"] = str(root / "home")
    for variable in _NEUTRALISED:
        os.environ.pop(variable, None)
    try:
        return _run(args, root)
    finally:
        for variable, value in saved.items():
            if value is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = value
        shutil.rmtree(root, ignore_errors=True)


def _run(args: argparse.Namespace, root: Path) -> int:
    # no bench/__pycache__ left behind; the plugin sites are byte-compiled explicitly
    sys.dont_write_bytecode = True
    import api_cases
    import author_cases
    import aws_cases
    import cases  # imports the core: only now that PROV_HOME is set
    import cli_cases
    import runtime_cases
    import upcloud_cases

    started = time.perf_counter()
    report, setup = cases.Report(), 0.0
    if "hot" in args.only:
        sites = cases.make_sites(root)
        setup = time.perf_counter() - started
        try:
            report = cases.run(sites, quick=args.quick)
            if args.profile:
                cases.profile(sites)
        finally:
            cases.forget_sites(sites)
        report.meta["sites"] = {
            "big": f"{cases.BIG_PLUGINS} plugin + {cases.BIG_UNRELATED} unrelated dists",
            "small": f"{cases.SMALL_PLUGINS} plugin dists",
        }
    for section, fn in (
        cli_cases.SECTIONS
        | runtime_cases.SECTIONS
        | author_cases.SECTIONS
        | upcloud_cases.SECTIONS
        | aws_cases.SECTIONS
        | api_cases.SECTIONS
    ).items():
        if section in args.only:
            _section(section, fn, report, root, quick=args.quick)
    elapsed = time.perf_counter() - started
    report.meta |= _environment() | {
        "sections": args.only,
        "setup_seconds": round(setup, 3),
        "total_seconds": round(elapsed, 3),
        "quick": args.quick,
    }
    _print(report)
    if args.json is not None:
        data = {"meta": report.meta, "results": [row.as_json() for row in report.rows]}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {args.json}")
    return 0


def _section(name: str, fn: Any, report: Any, root: Path, *, quick: bool) -> None:
    """Run one section; a command that does not work is reported, not a crash of the run."""
    from cases import Row

    try:
        fn(report, root, quick=quick)
    except Exception as exc:
        print(f"error: the {name} section failed: {exc}", file=sys.stderr)
        report.rows.append(
            Row(
                f"{name}.failed", f"{name} section", verdict="FAILED", note=str(exc).splitlines()[0]
            )
        )


def _environment() -> dict[str, object]:
    import pluggy

    import provisioning_core

    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "provisioning_core": provisioning_core.__version__,
        "pluggy": pluggy.__version__,
    }


def _print(report: object) -> None:
    from cases import Report, fmt_seconds

    assert isinstance(report, Report)
    meta = report.meta
    print(
        f"provisioning benchmarks: core {meta['provisioning_core']}, pluggy {meta['pluggy']}, "
        f"Python {meta['python']} ({meta['implementation']}), {meta['cpus']} CPUs"
    )
    if "sites" in meta:
        print(f'sites: {meta["sites"]["big"]} ("350"); {meta["sites"]["small"]} ("8")')
    if "cli" in meta:
        print(f"cli: {meta['cli']['sites']}; {meta['cli']['command']}")
        print(f"     bytecode: {meta['cli']['bytecode']}")
    if "ops" in meta:
        ops = meta["ops"]
        print(
            f"ops: {ops['fixture']} pip-installed, create_latency {ops['create_latency_s']} s, "
            f"{ops['repetitions']} repetitions, each with a new PROV_HOME"
        )
    if "runtime" in meta:
        runtime = meta["runtime"]
        print(f"runtime: {runtime['peer']}; {runtime['sandbox']}")
    if "api" in meta:
        print(f"api: {meta['api']['servers']}; loaded: {meta['api']['loaded']}")
    setup = f"setup {meta['setup_seconds']:.1f} s, " if "sites" in meta else ""
    print(f"{setup}total {meta['total_seconds']:.1f} s" + (" (--quick)" if meta["quick"] else ""))
    header = f"{'measurement':<58} {'median':>10} {'min':>10}  {'target':<12} verdict"
    print()
    print(header)
    print("-" * len(header))
    for row in report.rows:
        if row.timing is not None:
            median, low = fmt_seconds(row.timing.median), fmt_seconds(row.timing.min)
        elif row.ratio is not None:
            median, low = f"{row.ratio:.2f}x", ""
        else:
            median, low = "-", ""
        line = f"{row.label:<58} {median:>10} {low:>10}  {row.target:<12} {row.verdict}"
        if row.note:
            line += f"  ({row.note})" if row.verdict else f"({row.note})"
        print(line.rstrip())
    print()
    print("median/min: seconds per call over the samples; ratios use medians.")


if __name__ == "__main__":
    sys.exit(main())
