"""``prov config show`` and ``prov operations ...``."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from provisioning_core.cli.common import Group, emit, load_config_for, output_option, say

if TYPE_CHECKING:
    from provisioning_core.operations import Engine

__all__ = ["config", "operations"]


@click.group(cls=Group)
def config() -> None:
    """Show the effective configuration."""


@config.command("show")
@click.option("--sources", is_flag=True, help="Also list the files and variables that contributed.")
@click.option(
    "-o",
    "--output",
    type=click.Choice(["yaml", "json", "table"]),
    default=None,
    help="Output format (default: yaml on a terminal, json otherwise; table is yaml).",
)
def show(sources: bool, output: str | None) -> None:
    """Print the configuration in effect, every secret masked.

    Layers, lowest first: built-in defaults, the user's file (or --config),
    the workspace's provisioning.toml, PROV_SECTION__KEY variables.  What a
    command would refuse ([operations], [orchestrator.extensions],
    [providers.NAME]) is printed as an error after it, and the exit code is 2.
    """
    cfg = load_config_for()
    data: dict[str, object] = dict(cfg.masked())
    if sources or output in {"json", "yaml"}:
        data = {
            "config": data,
            "sources": [f"{s.layer}: {s.location}" for s in cfg.sources],
            "problems": dict(cfg.problems),
        }
    fmt = output or ("yaml" if sys.stdout.isatty() else "json")
    emit(data, "yaml" if fmt == "table" else fmt)
    for path, problem in cfg.problems.items():
        say(f"warning: {path}: {problem}")
    errors = cfg.validate()
    for error in errors:
        say(f"error: {error}")
    if errors:
        raise SystemExit(2)


@click.group(cls=Group)
def operations() -> None:
    """The audit trail of operations in the inventory."""


@operations.command("list")
# clamped to what SQLite counts: a larger limit means every operation
@click.option(
    "--limit", type=click.IntRange(min=1, max=2**63 - 1, clamp=True), default=20, show_default=True
)
@click.option("--status", type=click.Choice(["running", "succeeded", "failed", "interrupted"]))
@output_option
def list_(limit: int, status: str | None, output: str | None) -> None:
    """List recent operations, newest first."""
    from provisioning_core.operations.history import recent_operations

    rows = recent_operations(_engine(), limit=limit, status=status)
    emit(
        rows,
        output,
        key="operations",
        columns=[
            "id",
            "action",
            "target",
            "provider",
            "status",
            "started_at",
            "finished_at",
            "error",
        ],
        empty="no operations recorded",
    )


@operations.command("ack")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "all_", is_flag=True, help="Every interrupted operation.")
def ack(ids: tuple[int, ...], all_: bool) -> None:
    """Acknowledge interrupted operations so they are no longer reported."""
    from provisioning_core.operations.history import acknowledge

    chosen = acknowledge(_engine(), ids, everything=all_)
    click.echo(f"acknowledged {len(chosen)} operation(s)")


def _engine() -> Engine:
    from provisioning_core.operations import Engine

    engine = Engine(load_config_for())
    click.get_current_context().call_on_close(engine.close)
    return engine
