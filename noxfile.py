"""Sessions: tests, plugins, lint, typecheck, bench (`python3 -m nox -s tests`, fresh clone)."""

from pathlib import Path

import nox

nox.options.sessions = ["lint", "typecheck", "tests", "plugins", "docs"]

# the reference plugins, each its own distribution; providers first so the
# taskservs' end-to-end tests find the local provider installed
PLUGINS = sorted(
    (p for p in Path("plugins").iterdir() if (p / "pyproject.toml").is_file()),
    key=lambda p: (not p.name.startswith("provisioning-provider-"), p.name),
)
nox.options.reuse_existing_virtualenvs = True
# pinned: ruff's `select = ALL` and mypy's checks grow with every release
RUFF = "ruff==0.17.6"
MYPY = "mypy==2.4.1"


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (fixture plugins are built and installed by the tests)."""
    # ruff and mypy: tests/scaffold checks that generated plugins are lint- and type-clean
    session.install("-e", ".[test]", RUFF, MYPY)
    # exit code 5 means "no tests collected": an empty selection is not a failure
    session.run("pytest", *session.posargs, success_codes=[0, 5])


@nox.session
def plugins(session: nox.Session) -> None:
    """Each reference plugin's own tests, with the core and every plugin installed.

    They run end to end: real sandboxes of the local provider, real SSH on
    127.0.0.x, real services.
    """
    session.install("-e", ".[test]", *(f"-e{p}[test]" for p in PLUGINS))
    for plugin in PLUGINS:
        with session.chdir(plugin):
            session.run("pytest", "-p", "no:cacheprovider", *session.posargs, success_codes=[0, 5])


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over everything we ship and test."""
    session.install(RUFF)
    session.run("ruff", "check", "provisioning_core", "tests", "bench", "plugins", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on provisioning_core and on each reference plugin."""
    # pytest: provisioning_core.testing builds fixtures for plugin authors
    session.install("-e", ".[test]", *(f"-e{p}" for p in PLUGINS), MYPY, "types-PyYAML")
    session.run("mypy")
    for plugin in PLUGINS:
        with session.chdir(plugin):
            session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the docs site into site/; --strict fails on a broken link or anchor."""
    session.install("mkdocs==1.6.1")
    session.run("mkdocs", "build", "--strict", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks in bench/: numbers and ratios against a baseline, never assertions."""
    # hatchling and pip build the fixture plugin the operations benchmark installs;
    # the upcloud section measures that plugin against its emulator
    session.install("-e", ".[test]", "./plugins/provisioning-provider-upcloud")
    session.run("python", "bench/run.py", *session.posargs)
