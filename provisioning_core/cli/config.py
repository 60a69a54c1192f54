"""``prov config show`` and ``prov operations ...``."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from provisioning_core.cli.common import (
    Group,
    emit,
    load_config_for,
    output_format,
    output_option,
    say,
)

if TYPE_CHECKING:
    from provisioning_core.operations import Engine

__all__ = ["config", "operations"]


@click.group(cls=Group)
def config() -> None:
    """Show the effective configuration."""


@config.command("show")
@click.option(
    "--sources",
    is_flag=True,
    help="The files and variables that contributed (always listed now; kept for scripts).",
)
@click.option(
    "--show-origin",
    is_flag=True,
    help="Also say, for every setting, which layer set it (file, variable or flag).",
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["yaml", "json", "table"]),
    default=None,
    help="Output format (default: yaml on a terminal, json otherwise; table is yaml).",
)
def show(sources: bool, show_origin: bool, output: str | None) -> None:  # noqa: ARG001
    """Print the configuration in effect, every secret masked.

    Layers, lowest first: built-in defaults, the user's file (or --config),
    the workspace's provisioning.toml, PROV_SECTION__KEY variables.  What a
    command would refuse ([operations], [orchestrator.extensions],
    [providers.NAME]) is printed as an error after it, and the exit code is 2.
    """
    cfg = load_config_for()
    masked = dict(cfg.masked())
    # one shape, on a terminal or piped, in YAML or JSON
    data: dict[str, object] = {
        "config": masked,
        "sources": [f"{s.layer}: {s.location}" for s in cfg.sources],
        "problems": dict(cfg.problems),
    }
    if show_origin:
        data["origins"] = {path: cfg.origin(path) for path in _leaves(masked)}
    fmt = output or ("yaml" if sys.stdout.isatty() else "json")
    emit(data, "yaml" if fmt == "table" else fmt)
    for path, problem in cfg.problems.items():
        say(f"warning: {path}: {problem}")
    errors = cfg.validate()
    for error in errors:
        say(f"error: {error}")
    if errors:
        raise SystemExit(2)


def _leaves(node: object, prefix: str = "") -> list[str]:
    """The dotted paths of every value (not table) in ``node``."""
    if not isinstance(node, dict) or not node:
        return [prefix] if prefix else []
    paths: list[str] = []
    for key, value in node.items():
        paths += _leaves(value, f"{prefix}.{key}" if prefix else str(key))
    return paths


@click.group(cls=Group)
def operations() -> None:
    """The audit trail of operations in the inventory."""


@operations.command("list")
# clamped to what SQLite counts: a larger limit means every operation
@click.option(
    "--limit", type=click.IntRange(min=1, max=2**63 - 1, clamp=True), default=20, show_default=True
)
@click.option("--status", type=click.Choice(["running", "succeeded", "failed", "interrupted"]))
@click.option(
    "--target", metavar="NAME", help="Only this target (web-1 also finds my-service@web-1)."
)
@click.option("--action", metavar="ACTION", help="Only this action (server.create, or create).")
@click.option(
    "--since", metavar="WHEN", help="Started since: 30m, 2h, 7d, 1w, or a UTC date or time."
)
@output_option
def list_(
    limit: int,
    status: str | None,
    target: str | None,
    action: str | None,
    since: str | None,
    output: str | None,
) -> None:
    """List recent operations, newest first.

    \b
    Examples:
      prov operations list --status failed --since 1d
      prov operations list --target web-1 --action create
    """
    from provisioning_core.operations.history import operation_row, parse_since, recent_operations

    started = parse_since(since) if since is not None else None
    rows = [
        operation_row(op)
        for op in recent_operations(
            _engine(), limit=limit, status=status, target=target, action=action, since=started
        )
    ]
    emit(
        rows,
        output,
        key="operations",
        # most telling first: a narrow terminal drops the last columns
        columns=[
            "id",
            "action",
            "target",
            "status",
            "started_at",
            "duration_seconds",
            "provider",
            "changed",
            "error",
        ],
        empty="no operations recorded",
    )


@operations.command("show")
@click.argument("op_id", metavar="ID", type=int)
@output_option
def show_operation_(op_id: int, output: str | None) -> None:
    """Show operation ID: its target, actions, changes, duration, who ran it, how it ended.

    \b
    Example:
      prov operations show 12
    """
    from provisioning_core.operations.history import operation_row, show_operation

    row = operation_row(show_operation(_engine(), op_id))
    if output_format(output) != "table":
        emit(row, output)
        return
    # one line per field; details (actions, server ids, the job) one per line
    details = row.pop("details")
    fields = [{"field": k, "value": v} for k, v in row.items()]
    fields += [{"field": f"details.{k}", "value": v} for k, v in details.items()]
    emit(fields, "table", columns=["field", "value"])


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
