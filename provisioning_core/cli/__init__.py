"""The ``prov`` command: thin click commands that parse, call, render.

Only click is imported at start-up; each command imports what it needs when it
runs, so ``prov --help`` stays cheap however many plugins are installed.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from provisioning_core._version import __version__

__all__ = ["main"]

_KINDS = ("provider", "taskserv", "cluster")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="prov")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors (also PROV_DEBUG=1).")
def cli(debug: bool) -> None:
    """Provision servers, services and clusters through plugins."""
    # read by main() from sys.argv: an error may come before click parses anything


@cli.group()
def plugin() -> None:
    """Inspect installed plugins (never imports them to list them)."""


@plugin.command("list")
@click.option("--kind", type=click.Choice(_KINDS), help="Only this kind.")
@click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "json"]),
    default=None,
    help="Output format (default: table on a terminal, json otherwise).",
)
def plugin_list(kind: str | None, output: str | None) -> None:
    """List every discovered plugin with its status, without importing any."""
    from provisioning_core.discovery import Discovery

    discovery = Discovery()
    rows: list[dict[str, Any]] = [
        {
            "name": e.name,
            "kind": e.kind.value,
            "version": e.version,
            "distribution": e.distribution,
            "source": e.source,
            "status": e.status,
            "reason": e.reason,
            "warnings": e.warnings,
        }
        for e in discovery.all(kind)
    ]
    if (output or ("table" if sys.stdout.isatty() else "json")) == "json":
        click.echo(json.dumps({"plugins": rows, "problems": discovery.problems}, indent=2))
        return
    _table(rows, ["name", "kind", "version", "distribution", "source", "status"])
    for row in rows:
        if row["reason"]:
            click.echo(f"{row['kind']} {row['name']}: {row['reason']}", err=True)
        for warning in row["warnings"]:
            click.echo(f"warning: {row['kind']} {row['name']}: {warning}", err=True)
    for problem in discovery.problems:
        click.echo(f"warning: {problem}", err=True)


@plugin.command("validate")
@click.argument("target")
@click.option("--kind", type=click.Choice(_KINDS), required=True, help="The extension's kind.")
def plugin_validate(target: str, kind: str) -> None:
    """Validate an installed plugin by NAME, or a plugin directory by PATH."""
    from provisioning_core.validation import validate_extension

    report = validate_extension(target, kind)
    for check, result in report.checks.items():
        click.echo(f"{check:<11} {result}")
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    for error in report.errors:
        click.echo(f"error: {error}", err=True)
    if not report.valid:
        sys.exit(1)


def _table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    if not rows:
        click.echo("no plugins found")
        return
    widths = {c: max(len(c), *(len(str(r[c] or "-")) for r in rows)) for c in columns}
    click.echo("  ".join(c.upper().ljust(widths[c]) for c in columns))
    for row in rows:
        click.echo("  ".join(str(row[c] or "-").ljust(widths[c]) for c in columns))


def main() -> None:
    """Entry point of ``prov``: turns ProvisioningError into a message and an exit code."""
    from provisioning_core.environ import env_flag
    from provisioning_core.errors import ProvisioningError

    debug = "--debug" in sys.argv
    try:
        code = cli.main(standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if isinstance(exc, click.UsageError) else exc.exit_code)
    except click.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except ProvisioningError as exc:
        if debug or env_flag("PROV_DEBUG"):
            if exc.detail:
                click.echo(exc.detail, err=True)
            raise
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except Exception as exc:  # a bug: say so plainly, keep the traceback for --debug
        if debug or env_flag("PROV_DEBUG"):
            raise
        click.echo(
            f"internal error: {type(exc).__name__}: {exc}\n"
            "  hint: run again with --debug for the traceback and report it",
            err=True,
        )
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
