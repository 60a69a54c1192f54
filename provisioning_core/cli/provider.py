"""``prov provider ...``: what a provider is, needs and offers; does its API answer."""

from __future__ import annotations

import click

from provisioning_core.cli.common import Group, emit, engine_for, output_format, output_option

__all__ = ["provider"]


@click.group(cls=Group)
def provider() -> None:
    """Describe providers and test their settings."""


@provider.command("info")
@click.argument("name")
@output_option
def info(name: str, output: str | None) -> None:
    """Show provider NAME: its description, operations, authentication, regions, features.

    Reads the provider's provider_info and the settings in effect; secrets are
    never shown, only which credentials are set.
    """
    from provisioning_core.operations.providers import describe

    engine = engine_for()
    data = describe(engine, name)
    if output_format(output) != "table":
        emit(data, output)
        return
    # one row per field; nested tables (authentication, features) read as key=value
    emit([{"field": k, "value": v} for k, v in data.items()], "table")


@provider.command("test")
@click.argument("name")
@output_option
def test(name: str, output: str | None) -> None:
    """Check that provider NAME's API answers with the settings in effect (exit 1 if not)."""
    from provisioning_core.operations.providers import test_connection

    engine = engine_for()
    result = test_connection(engine, name)
    emit(result, output, columns=["ok", "message", "latency_ms", "error"])
    if not result.ok:
        raise SystemExit(1)
