"""``prov taskserv ...``: parse, call :mod:`provisioning_core.operations.taskservs`, render."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from provisioning_core.cli.common import (
    Group,
    check_option,
    emit,
    emit_report,
    engine_for,
    output_format,
    output_option,
    parallelism_option,
    provider_option,
    wait_option,
)

__all__ = ["taskserv"]

F = TypeVar("F", bound=Callable[..., Any])


def _server_option(*, required: bool = True) -> Callable[[F], F]:
    from provisioning_core.cli.server import _complete_server

    return click.option(
        "--server",
        "-s",
        "servers",
        multiple=True,
        required=required,
        metavar="SERVER",
        shell_complete=_complete_server,
        help="A server's id or hostname; repeat it to act on several servers at once.",
    )


@click.group(cls=Group)
def taskserv() -> None:
    """Install and run software (taskservs) on servers.

    NAME is a taskserv plugin (prov plugin list --kind taskserv); its settings
    come from [taskservs.NAME] in the configuration.
    """


def _action(
    action: str, summary: str, *, version: bool = False, keep_data: bool = False
) -> click.Command:
    def command(
        name: str,
        servers: tuple[str, ...],
        provider: str | None,
        check: bool,
        wait: bool,
        parallelism: int | None,
        output: str | None,
        version: str | None = None,
        keep_data: bool = False,
        force: bool = False,
    ) -> None:
        from provisioning_core.operations.taskservs import run_taskserv

        engine = engine_for(check=check, parallelism=parallelism)
        report = run_taskserv(
            engine,
            action,
            name,
            servers,
            provider=provider,
            version=version,
            keep_data=keep_data,
            force=force,
            wait=wait,
        )
        emit_report(report, output)

    command.__doc__ = summary
    for decorator in (
        output_option,
        parallelism_option,
        wait_option,
        check_option,
        provider_option(),
        _server_option(),
    ):
        command = decorator(command)
    if version:
        command = click.option(
            "--version",
            "version",
            metavar="V",
            help="The version (install: the plugin's latest; upgrade: the newest stable).",
        )(command)
    if keep_data:
        command = click.option(
            "--keep-data", is_flag=True, help="Keep the taskserv's data directory."
        )(command)
        command = click.option(
            "--force", is_flag=True, help="Go on past a service that fails to stop."
        )(command)
    command = click.argument("name")(command)
    return taskserv.command(action)(command)


install = _action("install", "Install taskserv NAME on servers (idempotent).", version=True)
uninstall = _action("uninstall", "Stop and remove taskserv NAME from servers.", keep_data=True)
configure = _action("configure", "Apply [taskservs.NAME] settings to the installed taskserv.")
restart = _action("restart", "Restart taskserv NAME's service.")
upgrade = _action(
    "upgrade", "Move taskserv NAME to --version (default: the newest stable).", version=True
)


@taskserv.command("list")
@click.option("--server", "-s", "server", metavar="SERVER", help="Only this server.")
@click.option("--refresh", is_flag=True, help="Ask each server how its taskservs are now.")
@output_option
def list_(server: str | None, refresh: bool, output: str | None) -> None:
    """List the taskservs installed on each server, from the audit trail.

    \b
    VERSION is the version installed (or asked for, when it was not seen);
    --refresh asks each server for RUNNING, HEALTHY and a MESSAGE.
    Examples:
      prov taskserv list
      prov taskserv list --server web-1 --refresh
    """
    from provisioning_core.operations.taskservs import installed_taskservs

    engine = engine_for()
    emit(
        installed_taskservs(engine, server=server, refresh=refresh),
        output,
        key="taskservs",
        columns=["server", "taskserv", "version", "installed_at", "running", "healthy", "message"],
        empty="no taskserv installed by prov" + (f" on {server}" if server else ""),
    )


@taskserv.command("status")
@click.argument("name")
@_server_option()
@provider_option()
@output_option
def status(name: str, servers: tuple[str, ...], provider: str | None, output: str | None) -> None:
    """Show taskserv NAME's state on each server."""
    from provisioning_core.operations.taskservs import taskserv_status

    engine = engine_for()
    rows = taskserv_status(engine, name, servers, provider=provider)
    if output_format(output) == "table":  # JSON and YAML keep the exact figures
        for row in rows:
            for key in ("uptime_seconds", "memory_mb"):
                if isinstance(row.get(key), float):
                    row[key] = round(row[key], 1)
    emit(
        rows,
        output,
        key="statuses",
        columns=[
            "server",
            "installed",
            "running",
            "healthy",
            "version",
            "uptime_seconds",
            "memory_mb",
            "message",
        ],
    )


@taskserv.command("versions")
@click.argument("name")
@output_option
def versions(name: str, output: str | None) -> None:
    """List the versions taskserv NAME can install, newest first."""
    from provisioning_core.operations.taskservs import taskserv_versions

    engine = engine_for()
    emit(
        taskserv_versions(engine, name),
        output,
        key="versions",
        columns=["version", "prerelease", "released_at", "url"],
    )


@taskserv.command("check-updates")
@click.argument("name")
@_server_option()
@provider_option()
@output_option
def check_updates(
    name: str, servers: tuple[str, ...], provider: str | None, output: str | None
) -> None:
    """Compare the installed version of NAME on each server with the newest."""
    from provisioning_core.operations.taskservs import check_updates as ops_check_updates

    engine = engine_for()
    emit(
        ops_check_updates(engine, name, servers, provider=provider),
        output,
        key="updates",
        columns=["server", "current", "latest", "update_available", "message"],
    )
