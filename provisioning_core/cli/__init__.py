"""The ``prov`` command: thin click commands that parse, call operations, render.

Only click is imported at start-up; a command group's module is imported when
that group runs, and each command imports what it needs, so ``prov --help``
stays cheap however many plugins are installed.
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings
from typing import Any, TextIO

import click

from provisioning_core._version import __version__

__all__ = ["WARNINGS_LOGGER", "cli", "main", "run"]

# the logger the libraries' warnings go to in a `prov` process: shown with -vv or --debug
WARNINGS_LOGGER = "provisioning.warnings"

# name -> (module, attribute, short help shown by `prov --help` without importing it)
_GROUPS: dict[str, tuple[str, str, str]] = {
    "server": ("provisioning_core.cli.server", "server", "Create, inspect and manage servers."),
    "taskserv": (
        "provisioning_core.cli.taskserv",
        "taskserv",
        "Install and run software (taskservs) on servers.",
    ),
    "cluster": ("provisioning_core.cli.cluster", "cluster", "Deploy and manage clusters."),
    "provider": (
        "provisioning_core.cli.provider",
        "provider",
        "Describe providers and test their settings.",
    ),
    "plugin": (
        "provisioning_core.cli.plugin",
        "plugin",
        "Inspect and validate installed plugins.",
    ),
    "module": (
        "provisioning_core.cli.plugin",
        "module",
        "Discover and load extensions (the seed's verbs).",
    ),
    "config": ("provisioning_core.cli.config", "config", "Show the effective configuration."),
    "serve": (
        "provisioning_core.cli.serve",
        "serve",
        "Serve the HTTP API (the [api] extra): every operation as a job.",
    ),
    "operations": (
        "provisioning_core.cli.config",
        "operations",
        "The audit trail of operations; acknowledge interrupted ones.",
    ),
}


class _LazyGroup(click.Group):
    """A group whose subcommands live in modules imported only when used."""

    def list_commands(self, _ctx: click.Context) -> list[str]:
        return sorted(_GROUPS)

    def get_command(self, _ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = _GROUPS.get(cmd_name)
        if entry is None:
            return None
        command: click.Command = getattr(importlib.import_module(entry[0]), entry[1])
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, _GROUPS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="prov")
@click.option(
    "--config",
    "config_file",
    metavar="FILE",
    help="Configuration file to use instead of the user's (also PROV_CONFIG).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks on errors (also PROV_DEBUG=1).")
@click.option("-v", "--verbose", count=True, help="Log what is done (-vv: every hook call).")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, debug: bool, verbose: int) -> None:
    """Provision servers, services and clusters through plugins.

    \b
    Exit codes: 0 done, 1 the operation failed, 2 bad usage or input, 130 interrupted.
    Shell completion: eval "$(_PROV_COMPLETE=bash_source prov)" (or zsh_source, fish_source).
    """
    from provisioning_core.cli.common import Settings, debug_logging
    from provisioning_core.environ import env_flag

    ctx.obj = Settings(config_file, verbose, debug=debug)
    ctx.with_resource(debug_logging(verbose, debug=debug or env_flag("PROV_DEBUG")))


def _debug(argv: list[str] | None) -> bool:
    from provisioning_core.environ import env_flag

    args = sys.argv[1:] if argv is None else argv
    # what follows `--` belongs to another program (prov server ssh web -- cmd --debug)
    ours = args[: args.index("--")] if "--" in args else args
    return "--debug" in ours or env_flag("PROV_DEBUG")


def run() -> None:
    """The ``prov`` console script and ``python -m provisioning_core``.

    The process is ours here, so its warnings are too: a library's warning
    (a deprecation inside a dependency, say) says nothing a user can act on,
    so it becomes a debug record of :data:`WARNINGS_LOGGER`, shown with
    ``-vv`` or ``--debug``. Warnings the user asked for with ``python -W`` or
    ``PYTHONWARNINGS`` are left as asked. :func:`main` leaves the process's
    warnings alone, so a test or a program calling it keeps its own policy.
    """
    if not sys.warnoptions:
        warnings.showwarning = _log_warning
    main()


def _log_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,  # noqa: ARG001 - the signature of warnings.showwarning
    line: str | None = None,
) -> None:
    import logging

    text = warnings.formatwarning(message, category, filename, lineno, line).rstrip()
    logging.getLogger(WARNINGS_LOGGER).debug("%s", text)


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``prov``: turns every error into a message and an exit code.

    A traceback is shown only with ``--debug`` (or ``PROV_DEBUG=1``), and even
    then every secret of the configuration is masked in it.
    """
    try:
        code: Any = cli.main(args=argv, prog_name="prov", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        if isinstance(exc, click.NoSuchOption) and exc.option_name in _GLOBAL_OPTIONS:
            _say(
                f"  hint: {exc.option_name} is an option of prov itself: put it before the "
                f"command (prov {exc.option_name} {_command_words(argv)})"
            )
        sys.exit(2 if isinstance(exc, click.UsageError) else exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except (click.Abort, KeyboardInterrupt):
        _abandon()
    except SystemExit:
        raise
    except Exception as exc:
        # imported here: `prov --help` never needs it
        from provisioning_core.errors import ProvisioningError

        if _debug(argv):
            _traceback(exc.detail if isinstance(exc, ProvisioningError) else None)
        if isinstance(exc, ProvisioningError):
            _say(f"error: {exc}")
            sys.exit(exc.exit_code)
        # a bug: say so plainly, keep the traceback for --debug
        _say(
            f"internal error: {type(exc).__name__}: {exc}\n"
            "  hint: run again with --debug for the traceback and report it"
        )
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


#: the options of ``prov`` itself, which a user may put after a command by habit
_GLOBAL_OPTIONS = frozenset({"-v", "-vv", "--verbose", "--debug", "--config"})


def _command_words(argv: list[str] | None) -> str:
    words = sys.argv[1:] if argv is None else argv
    return " ".join(w for w in words if w not in _GLOBAL_OPTIONS)


def _say(text: str) -> None:
    from provisioning_core.cli.common import say

    say(text)


def _traceback(detail: str | None) -> None:
    import traceback

    _say(traceback.format_exc().rstrip())
    if detail:
        _say(f"the plugin's traceback:\n{detail.rstrip()}")


def _abandon() -> None:
    """A second Ctrl-C (or one outside fleet work): leave now, without joining workers."""
    _say(
        "interrupted: anything in flight was abandoned; the next prov run reports what "
        "did not finish"
    )
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(130)
