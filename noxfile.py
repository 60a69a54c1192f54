"""Sessions: tests, lint, typecheck, bench.  `python3 -m nox -s tests` from a fresh clone."""

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (fixture plugins are built and installed by the tests)."""
    session.install("-e", ".[test]")
    # exit code 5 means "no tests collected": an empty selection is not a failure
    session.run("pytest", *session.posargs, success_codes=[0, 5])


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over everything we ship and test."""
    session.install("ruff==0.17.6")  # pinned: `select = ALL` grows with every release
    session.run("ruff", "check", "provisioning_core", "tests", "bench", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on provisioning_core."""
    session.install("-e", ".", "mypy==2.4.1", "types-PyYAML")
    session.run("mypy")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks in bench/: numbers and ratios against a baseline, never assertions."""
    # hatchling and pip build the fixture plugin the operations benchmark installs
    session.install("-e", ".[test]")
    session.run("python", "bench/run.py", *session.posargs)
