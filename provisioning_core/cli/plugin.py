"""``prov plugin ...`` and ``prov module ...``: plugins as metadata, and loading one."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from provisioning_core.cli.common import (
    Group,
    emit,
    extension_manager,
    literal,
    output_format,
    output_option,
    say,
)

__all__ = ["module", "plugin"]

_KINDS = ("provider", "taskserv", "cluster")


@click.group(cls=Group)
def plugin() -> None:
    """Inspect and validate installed plugins (listing never imports them)."""


@plugin.command("list")
@click.option("--kind", type=click.Choice(_KINDS), help="Only this kind.")
@output_option
def plugin_list(kind: str | None, output: str | None) -> None:
    """List every discovered plugin with its status, without importing any.

    STATUS is ok, incompatible, disabled, shadowed or invalid, with the reason
    when it is not ok (in -o json: the "reason" field).
    """
    from provisioning_core.operations.plugins import plugin_rows

    manager = extension_manager(tolerant=True)
    discovery = manager.discovery
    rows = plugin_rows(discovery, kind, manager.ledger)
    if output_format(output) != "table":
        emit({"plugins": rows, "problems": discovery.problems}, output)
        return
    shown = [
        {**row, "status": f"{row['status']}: {row['reason']}" if row["reason"] else row["status"]}
        for row in rows
    ]
    emit(
        shown,
        "table",
        columns=["name", "kind", "version", "distribution", "source", "status"],
        empty="no plugins found",
    )
    for row in rows:
        for warning in row["warnings"]:
            say(f"warning: {row['kind']} {row['name']}: {warning}")
    for problem in discovery.problems:
        say(f"warning: {problem}")


@plugin.command("info")
@click.argument("name")
@click.option("--kind", type=click.Choice(_KINDS), help="The kind, when NAME exists as several.")
@output_option
def plugin_info(name: str, kind: str | None, output: str | None) -> None:
    """Describe plugin NAME: metadata, hooks, capabilities it lacks (loads it)."""
    from provisioning_core.operations.plugins import plugin_info as info

    results = info(name, kind=kind, manager=extension_manager(tolerant=True))
    if output_format(output) != "table":
        emit(results, output, key="plugins")
        return
    for item in results:
        click.echo(literal(f"{item['kind']} {item['name']} {item['version']}"))
        for field in (
            "status",
            "reason",
            "description",
            "distribution",
            "source",
            "author",
            "repository",
            "requires_core",
            "dependencies",
            "path",
            "hooks",
            "accepts_check",
            "unsupported",
            "load_error",
        ):
            value = item.get(field)
            if value not in (None, "", []):
                shown = ", ".join(value) if isinstance(value, list) else value
                click.echo(literal(f"  {field.replace('_', ' ')}: {shown}"))


@plugin.command("validate")
@click.argument("target", metavar="NAME|PATH")
@click.option("--kind", type=click.Choice(_KINDS), help="The kind (required for a PATH).")
@output_option
def plugin_validate(target: str, kind: str | None, output: str | None) -> None:
    """Validate an installed plugin by NAME, or a plugin directory by PATH.

    Checks structure, schema, interface, dependencies and version; exits 1
    when the plugin is not valid.  The plugin is first imported in a probe
    process bounded by [orchestrator.extensions] import_timeout and
    probe_memory_mb, so one that exits, hangs or eats memory at import is
    named instead of ending prov.
    """
    from provisioning_core.operations.plugins import validate_plugin

    manager = extension_manager(tolerant=True, strict=False)
    kind, report = validate_plugin(target, kind, manager=manager, probe=True)
    if output in {"json", "yaml"}:
        from provisioning_core.convert import unstructure

        emit({"target": target, "kind": kind, **unstructure(report)}, output)
    else:
        for check, result in report.checks.items():
            click.echo(literal(f"{check:<11} {result}"))
        for warning in report.warnings:
            say(f"warning: {warning}")
        for error in report.errors:
            say(f"error: {error}")
    if not report.valid:
        raise SystemExit(1)


@plugin.command("new")
@click.argument("kind", type=click.Choice(_KINDS))
@click.argument("name")
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to create provisioning-KIND-NAME/ (default: the current directory).",
)
@output_option
def plugin_new(kind: str, name: str, directory: Path | None, output: str | None) -> None:
    """Generate a pip-installable KIND plugin called NAME that works at once.

    NAME: a lowercase letter, then lowercase letters, digits and '-'.  The
    package runs on a tiny JSON backend it carries (backend.py, the part to
    replace with your API); docs/scaffold.md describes every file.
    """
    from provisioning_core.scaffold import generated_files, new_plugin, plugin_names

    path = new_plugin(kind, name, directory)
    files = generated_files(path)
    if output_format(output) != "table":
        emit({"path": str(path), "files": files, "kind": kind, "name": name}, output)
        return
    click.echo(f"created {kind} plugin {name!r} in {path}:")
    for file in files:
        click.echo(f"  {file}")
    click.echo("next:")
    for step in (
        f"cd {shlex.quote(str(path))}",
        "pip install -e '.[test]'",
        f"prov plugin list --kind {kind}",
        f"prov plugin validate {name} --kind {kind}",
        "pytest",
        f"prov plugin test {name}",
    ):
        click.echo(f"  {step}")
    module = plugin_names(kind, name)["module"]
    click.echo(
        f"then replace the tiny backend in {module}/backend.py with calls to your real API "
        "(README.md says how)"
    )


@plugin.command("test", context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.option("--kind", type=click.Choice(_KINDS), help="The kind, when NAME exists as several.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=1800.0,
    show_default=True,
    metavar="SECONDS",
    help="Stop the suite after this long (a hook that hangs must not hang prov).",
)
@output_option
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED, metavar="[-- PYTEST_ARGS]")
def plugin_test(
    name: str,
    kind: str | None,
    timeout: float,
    output: str | None,
    pytest_args: tuple[str, ...],
) -> None:
    """Run the conformance suite of its kind on the installed plugin NAME.

    The suite runs against the test environment the plugin declares (entry
    point provisioning.conformance); pytest's output is shown as it runs.
    Exits 1, naming each broken rule, when the plugin breaks the contract,
    or, before the suite starts, when a probe finds that importing it exits,
    hangs or eats memory.  Arguments after -- go to pytest (-- -x -k lifecycle).
    """
    from provisioning_core.operations.plugin_test import run_conformance, summary

    table = output_format(output) == "table"
    run = run_conformance(
        name,
        kind,
        pytest_args=pytest_args,
        echo=click.echo if table else None,
        timeout=timeout,
        manager=extension_manager(tolerant=True),
    )
    if not table:
        emit(summary(run), output)
    else:
        if run.environment is None:
            say(
                f"warning: {run.kind} {run.name!r} declares no test environment "
                "(entry point provisioning.conformance): the suite ran with default settings, "
                "and check mode was judged by what the plugin itself reports"
            )
        say(
            f"{run.kind} {run.name} {run.verdict}: {run.passed} passed, {run.failed} failed, "
            f"{run.skipped} skipped"
        )
    if not run.ok:
        raise SystemExit(1)


@click.group(cls=Group)
def module() -> None:
    """Discover and load extensions (the seed's verbs).

    With [orchestrator.extensions] auto_load = false, commands use only the
    extensions loaded here; the record lives in the cache_dir (loaded.json).
    """


@module.command("discover")
@click.argument("kind", metavar="TYPE", type=click.Choice(_KINDS))
@click.option("--name", help="Only this extension: its metadata.")
@output_option
def module_discover(kind: str, name: str | None, output: str | None) -> None:
    """The metadata of every usable TYPE extension, or of --name NAME (from metadata alone).

    Keys: name, version, description, extension_type, dependencies, author,
    repository (the seed's ExtensionMetadata); -o json prints exactly those.
    """
    from provisioning_core.operations.plugins import METADATA_KEYS, discover_modules

    rows, warnings = discover_modules(extension_manager(tolerant=True).discovery, kind, name)
    if name is not None:
        emit(rows[0], output, columns=list(METADATA_KEYS))
    else:
        emit(
            rows,
            output,
            key="extensions",
            columns=list(METADATA_KEYS),
            empty=f"no usable {kind} extensions found",
        )
    for warning in warnings:
        say(f"warning: {warning}")


@module.command("load")
@click.argument("kind", metavar="TYPE", type=click.Choice(_KINDS))
@click.argument("name")
@click.option("--version", "version", metavar="V", help="An exact version (default: the highest).")
@output_option
def module_load(kind: str, name: str, version: str | None, output: str | None) -> None:
    """Load extension NAME of TYPE: import it, check its hooks, record it as loaded.

    The record (in the cache_dir) is what lets commands use NAME when
    auto_load is false; --version pins the version they use.
    """
    from packaging.version import InvalidVersion, Version

    from provisioning_core.errors import InputError
    from provisioning_core.operations.plugins import load_module

    if version is not None:
        try:
            Version(version)
        except InvalidVersion:
            raise InputError(
                f"invalid version {version!r}",
                problems=["expected a version such as 1.0.0 @ --version"],
            ) from None
    emit(
        load_module(kind, name, version, manager=extension_manager()),
        output,
        columns=["name", "kind", "version", "origin", "hooks", "unsupported", "load_ms"],
    )


@module.command("unload")
@click.argument("kind", metavar="TYPE", type=click.Choice(_KINDS))
@click.argument("name")
def module_unload(kind: str, name: str) -> None:
    """Forget that NAME of TYPE was loaded: with auto_load false, commands refuse it again."""
    from provisioning_core.operations.plugins import unload_module

    unload_module(kind, name, manager=extension_manager())
    say(f"{kind} {name} unloaded")


@module.command("list")
@output_option
def module_list(output: str | None) -> None:
    """The extensions loaded with prov module load (recorded in the cache_dir)."""
    from provisioning_core.operations.plugins import loaded_modules

    emit(
        loaded_modules(extension_manager()),
        output,
        key="loaded",
        columns=["name", "kind", "version", "loaded_at"],
        empty="no extension was loaded with prov module load",
    )
