"""Sessions: tests, plugins, reliability, lint, typecheck, docs, bench, latest, lock.

Every session but ``latest`` and ``lock`` installs from the lock,
requirements/ci.txt: ``PIP_CONSTRAINT`` points every pip the session runs at
it (the tests' own pip installs and the build environments included), so a
release upstream cannot turn main red overnight. ``latest`` runs the tests
against the newest releases instead, to see drift on purpose; ``lock``
refreshes the lock (README.md, Development).
"""

from pathlib import Path

import nox

nox.options.sessions = ["lint", "typecheck", "tests", "plugins", "reliability", "docs"]

LOCK_INPUT = Path("requirements/ci.in")
LOCK = Path("requirements/ci.txt").resolve()

# the reference plugins, each its own distribution; providers first so the
# taskservs' end-to-end tests find the local provider installed
PLUGINS = sorted(
    (p for p in Path("plugins").iterdir() if (p / "pyproject.toml").is_file()),
    key=lambda p: (not p.name.startswith("provisioning-provider-"), p.name),
)
nox.options.reuse_existing_virtualenvs = True


def _locked(session: nox.Session) -> None:
    """Every pip this session runs installs the versions of the lock, and only those."""
    session.env["PIP_CONSTRAINT"] = str(LOCK)


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (fixture plugins are built and installed by the tests)."""
    _locked(session)
    _core_tests(session)


def _core_tests(session: nox.Session, *upgrade: str) -> None:
    # ruff and mypy: tests/scaffold checks that generated plugins are lint- and type-clean
    session.install(*upgrade, "-e", ".[test,api]", "ruff", "mypy")
    # exit code 5 means "no tests collected": an empty selection is not a failure;
    # tests/reliability is its own session
    session.run("pytest", "--ignore=tests/reliability", *session.posargs, success_codes=[0, 5])


@nox.session
def reliability(session: nox.Session) -> None:
    """The reliability suite: bad input, faults, broken plugins, secrets; figures at the end.

    Real processes killed at random (seeded) points, concurrent writers, a
    full disk, a killed SSH daemon (the local provider's sandboxes), fuzzed
    input; each promise's figures are printed in the summary.
    """
    _locked(session)
    session.install(
        "-e", ".[test,api]", "-eplugins/provisioning-provider-local[test]",
        "-eplugins/provisioning-taskserv-my-service[test]",
    )  # fmt: skip
    session.run(
        "pytest", "-p", "no:cacheprovider", "tests/reliability", *session.posargs,
        success_codes=[0, 5],
    )  # fmt: skip


@nox.session
def plugins(session: nox.Session) -> None:
    """Each reference plugin's own tests, with the core and every plugin installed.

    They run end to end: real sandboxes of the local provider, real SSH on
    127.0.0.x, real services.
    """
    _locked(session)
    _plugin_tests(session)


def _plugin_tests(session: nox.Session, *upgrade: str) -> None:
    session.install(*upgrade, "-e", ".[test]", *(f"-e{p}[test]" for p in PLUGINS))
    for plugin in PLUGINS:
        with session.chdir(plugin):
            session.run("pytest", "-p", "no:cacheprovider", *session.posargs, success_codes=[0, 5])


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over everything we ship and test."""
    _locked(session)
    session.install("ruff")
    session.run("ruff", "check", "provisioning_core", "tests", "bench", "plugins", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on provisioning_core and on each reference plugin."""
    _locked(session)
    # pytest: provisioning_core.testing builds fixtures for plugin authors
    session.install("-e", ".[test,api]", *(f"-e{p}" for p in PLUGINS), "mypy", "types-PyYAML")
    session.run("mypy")
    for plugin in PLUGINS:
        with session.chdir(plugin):
            session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the docs site into site/; --strict fails on a broken link or anchor."""
    _locked(session)
    session.install("mkdocs")
    session.run("mkdocs", "build", "--strict", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks in bench/: numbers and ratios against a baseline, never assertions."""
    # hatchling and pip build the fixture plugin the operations benchmark installs;
    # the upcloud section measures that plugin against its emulator, aws against moto
    _locked(session)
    session.install(
        "-e", ".[test,api]", "./plugins/provisioning-provider-upcloud",
        "./plugins/provisioning-provider-aws[test]",
    )  # fmt: skip
    session.run("python", "bench/run.py", *session.posargs)


@nox.session
def latest(session: nox.Session) -> None:
    """The tests and the plugins' tests against the newest releases, ignoring the lock.

    Not part of the README's test command: it shows drift on purpose, before
    `nox -s lock -- --upgrade` takes it in.
    """
    session.env["PIP_CONSTRAINT"] = ""  # neither the lock nor a caller's constraints
    upgrade = ("--upgrade", "--upgrade-strategy", "eager")
    _core_tests(session, *upgrade)
    _plugin_tests(session, *upgrade)


@nox.session
def lock(session: nox.Session) -> None:
    """Resolve requirements/ci.in into the lock, requirements/ci.txt, with uv.

    Versions already in the lock are kept unless asked: `nox -s lock` after
    adding a dependency, `nox -s lock -- --upgrade` to take every new release,
    `nox -s lock -- --upgrade-package cryptography` for one.
    """
    if LOCK.is_file():
        _locked(session)  # uv itself comes from the lock
    session.install("uv")
    local = ["provisioning-core", *(p.name for p in PLUGINS)]
    session.run(
        "uv", "pip", "compile", str(LOCK_INPUT), "--output-file", str(LOCK.relative_to(Path.cwd())),
        # one lock for every Python the project supports (3.10+) and every platform
        "--universal", "--python-version", "3.10",
        # the local projects are inputs, never constraints (pip refuses editables there)
        *(arg for name in local for arg in ("--no-emit-package", name)),
        "--quiet", *session.posargs,
    )  # fmt: skip
