"""``prov cluster ...``: parse, call :mod:`provisioning_core.operations.clusters`, render."""

from __future__ import annotations

import click

from provisioning_core.cli.common import (
    Group,
    check_option,
    emit,
    emit_report,
    engine_for,
    literal,
    output_format,
    output_option,
    wait_option,
)

__all__ = ["cluster"]


@click.group(cls=Group)
def cluster() -> None:
    """Deploy and manage clusters.

    NAME is a cluster described by [clusters.NAME] in the configuration; its
    `type` key names the cluster plugin (default: NAME itself).
    """


def _run(
    action: str, name: str, check: bool, wait: bool, output: str | None, **kwargs: object
) -> None:
    from provisioning_core.operations.clusters import run_cluster

    engine = engine_for(check=check)
    report = run_cluster(engine, action, name, wait=wait, **kwargs)  # type: ignore[arg-type]
    emit_report(report, output)


@cluster.command("create")
@click.argument("name")
@check_option
@wait_option
@output_option
def create(name: str, check: bool, wait: bool, output: str | None) -> None:
    """Deploy cluster NAME, its components in dependency order."""
    _run("create", name, check, wait, output)


@cluster.command("delete")
@click.argument("name")
@click.option(
    "--force",
    is_flag=True,
    help="Go on past a component that cannot be removed; list what was left (exit 1).",
)
@check_option
@wait_option
@output_option
def delete(name: str, force: bool, check: bool, wait: bool, output: str | None) -> None:
    """Remove cluster NAME, its components in reverse order."""
    _run("delete", name, check, wait, output, force=force)


@cluster.command("scale")
@click.argument("name")
@click.option(
    "--component", "-c", default=None, help="The component to scale (default: every one)."
)
@click.option(
    "--replicas", "-r", type=click.IntRange(min=0), required=True, help="How many instances."
)
@check_option
@wait_option
@output_option
def scale(
    name: str, component: str | None, replicas: int, check: bool, wait: bool, output: str | None
) -> None:
    """Run --replicas instances of one --component of cluster NAME, or of every one."""
    _run("scale", name, check, wait, output, component=component, replicas=replicas)


@cluster.command("upgrade")
@click.argument("name")
@click.option("--version", "version", required=True, metavar="V", help="The version to move to.")
@click.option(
    "--component",
    "-c",
    default=None,
    help="Upgrade only this component, to --version (a version of its taskserv).",
)
@check_option
@wait_option
@output_option
def upgrade(
    name: str, version: str, component: str | None, check: bool, wait: bool, output: str | None
) -> None:
    """Move cluster NAME to --version (a cluster version), or one --component."""
    _run("upgrade", name, check, wait, output, version=version, component=component)


@cluster.command("restart-component")
@click.argument("name")
@click.argument("component")
@check_option
@wait_option
@output_option
def restart_component(
    name: str, component: str, check: bool, wait: bool, output: str | None
) -> None:
    """Restart COMPONENT of cluster NAME."""
    _run("restart_component", name, check, wait, output, component=component)


@cluster.command("list")
@output_option
def list_(output: str | None) -> None:
    """List the clusters the configuration names, and their last operation.

    \b
    Example:
      prov cluster list
    """
    from provisioning_core.operations.clusters import list_clusters

    engine = engine_for()
    emit(
        list_clusters(engine),
        output,
        key="clusters",
        columns=["name", "type", "version", "components", "last_action", "last_status", "last_at"],
        empty="no cluster configured: add a [clusters.NAME] table (see docs/clusters.md)",
    )


@cluster.command("status")
@click.argument("name")
@output_option
def status(name: str, output: str | None) -> None:
    """Show cluster NAME's status and each component's."""
    from provisioning_core.operations.clusters import cluster_status

    engine = engine_for()
    result = cluster_status(engine, name)
    from provisioning_core.convert import unstructure

    if output_format(output) != "table":
        emit(result, output)
        return
    click.echo(literal(f"cluster {result.name}: {result.status}"))
    emit(
        [unstructure(c) for c in result.components],
        "table",
        columns=["name", "status", "healthy", "version", "message"],
        empty="no components",
    )
    for component, addresses in result.endpoints.items():
        click.echo(literal(f"endpoint {component}: {', '.join(addresses)}"))


def _list_components(name: str, output: str | None) -> None:
    from provisioning_core.operations.clusters import components as ops_components

    engine = engine_for()
    emit(
        ops_components(engine, name),
        output,
        key="components",
        columns=["name", "kind", "enabled", "version", "depends_on", "replicas"],
    )


@cluster.command("list-components")
@click.argument("name")
@output_option
def list_components(name: str, output: str | None) -> None:
    """List the components of cluster NAME (the seed's list-components)."""
    _list_components(name, output)


@cluster.command("components")
@click.argument("name")
@output_option
def components(name: str, output: str | None) -> None:
    """List the components of cluster NAME (the same as list-components)."""
    _list_components(name, output)


@cluster.command("component-status")
@click.argument("name")
@click.argument("component")
@output_option
def component_status(name: str, component: str, output: str | None) -> None:
    """Show the status of COMPONENT of cluster NAME."""
    from provisioning_core.operations.clusters import component_status as ops_component_status

    engine = engine_for()
    emit(ops_component_status(engine, name, component), output)
