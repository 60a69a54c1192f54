"""``prov server ...``: parse, call :mod:`provisioning_core.operations.servers`, render."""

from __future__ import annotations

from typing import Any

import click

from provisioning_core.cli.common import (
    Group,
    check_option,
    emit,
    emit_report,
    engine_for,
    output_option,
    parallelism_option,
    provider_option,
    wait_option,
)

__all__ = ["server"]


def _complete_server(_ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[str]:
    from provisioning_core.operations.servers import known_hostnames

    return known_hostnames(incomplete)


@click.group(cls=Group)
def server() -> None:
    """Create, inspect and manage servers.

    SERVER is a server's id or hostname; the inventory remembers which
    provider each server prov created is on.
    """


@server.command("create")
@click.argument("hostname")
@provider_option(required=True, help_text="The provider to create the servers on.")
@click.option("--plan", help="Server size (prov server plans lists them).")
@click.option("--zone", help="Where to put it (prov server zones lists them).")
@click.option("--os", "os_name", metavar="OS", help="Operating system image.")
@click.option(
    "--ssh-key", "ssh_keys", multiple=True, metavar="KEY|FILE", help="Public key or .pub file."
)
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="A tag; repeatable.")
@click.option(
    "--rule", "rules", multiple=True, metavar="RULE", help="Firewall rule (see server firewall)."
)
@click.option(
    "--count",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="How many: HOSTNAME-1 ... HOSTNAME-N when more than one.",
)
@click.option(
    "--storage-size", type=click.IntRange(min=1), metavar="GB", help="Size of the main disk."
)
@click.option("--storage-type", metavar="TYPE", help="The provider's storage class.")
@click.option(
    "--storage-encrypted/--no-storage-encrypted",
    default=None,
    help="Encrypt the disk at rest (default: yes).",
)
@click.option(
    "--public-ip/--no-public-ip", default=None, help="Give it a public address (default: yes)."
)
@click.option("--private-network", metavar="NET", help="A private network to attach it to.")
@click.option("--bandwidth", type=click.IntRange(min=1), metavar="MBPS", help="Bandwidth cap.")
@check_option
@wait_option
@parallelism_option
@output_option
def create(
    hostname: str,
    provider: str,
    plan: str | None,
    zone: str | None,
    os_name: str | None,
    ssh_keys: tuple[str, ...],
    tags: tuple[str, ...],
    rules: tuple[str, ...],
    count: int,
    storage_size: int | None,
    storage_type: str | None,
    storage_encrypted: bool | None,
    public_ip: bool | None,
    private_network: str | None,
    bandwidth: int | None,
    check: bool,
    wait: bool,
    parallelism: int | None,
    output: str | None,
) -> None:
    """Create HOSTNAME (or COUNT servers named after it) on a provider.

    What is not given comes from [providers.NAME.defaults], then from the
    provider (its default zone and plan, or its only one).
    """
    from provisioning_core.operations import servers
    from provisioning_core.operations.inputs import parse_rule, parse_tags, read_ssh_keys

    parsed_tags = parse_tags(tags)
    parsed_rules = [parse_rule(r) for r in rules]
    keys = read_ssh_keys(ssh_keys)
    engine = engine_for(check=check, parallelism=parallelism)
    report = servers.create_servers(
        engine,
        hostname,
        provider=provider,
        plan=plan,
        zone=zone,
        os=os_name,
        ssh_keys=keys,
        tags=parsed_tags,
        firewall_rules=parsed_rules,
        storage=_given(size=storage_size, type=storage_type, encrypted=storage_encrypted),
        network=_given(public_ip=public_ip, private_network=private_network, bandwidth=bandwidth),
        count=count,
        wait=wait,
    )
    emit_report(report, output)


def _given(**options: Any) -> dict[str, Any] | None:
    """The options the user gave (over the provider's defaults), or None for none."""
    given = {k: v for k, v in options.items() if v is not None}
    return given or None


def _action_command(action: str, summary: str) -> click.Command:
    @click.argument(
        "servers", metavar="SERVER...", nargs=-1, required=True, shell_complete=_complete_server
    )
    @provider_option()
    @check_option
    @wait_option
    @parallelism_option
    @output_option
    def command(
        servers: tuple[str, ...],
        provider: str | None,
        check: bool,
        wait: bool,
        parallelism: int | None,
        output: str | None,
    ) -> None:
        from provisioning_core.operations import servers as ops

        engine = engine_for(check=check, parallelism=parallelism)
        report = ops.act_on_servers(engine, action, servers, provider=provider, wait=wait)
        emit_report(report, output)

    command.__doc__ = summary
    return server.command(action)(command)


delete = _action_command("delete", "Delete servers (the inventory keeps them, marked deleted).")
start = _action_command("start", "Start stopped servers.")
stop = _action_command("stop", "Stop running servers.")
reboot = _action_command("reboot", "Reboot servers.")


@server.command("info")
@click.argument("server", metavar="SERVER", shell_complete=_complete_server)
@provider_option()
@check_option
@output_option
def info(server: str, provider: str | None, check: bool, output: str | None) -> None:
    """Show a server as its provider sees it now."""
    from provisioning_core.operations import servers as ops

    engine = engine_for(check=check)
    emit(ops.server_info(engine, server, provider=provider), output)


@server.command("list")
@provider_option(help_text="Only this provider (default: every provider in the inventory).")
@click.option(
    "--all", "include_deleted", is_flag=True, help="Include the servers prov deleted (history)."
)
@click.option(
    "--allow-partial",
    is_flag=True,
    help="Exit 0 even when a provider did not answer (its servers then come from the "
    "inventory alone).",
)
@output_option
def list_(
    provider: str | None, include_deleted: bool, allow_partial: bool, output: str | None
) -> None:
    """List servers, reconciling the inventory with the providers.

    WHERE says who knows the server: both, the provider only (not created by
    prov) or the inventory only (deleted outside prov, or its creation was
    interrupted). When a provider does not answer, its servers are listed
    from the inventory ("provider unavailable") and the exit code is 1,
    unless --allow-partial.
    """
    from provisioning_core.cli.common import say
    from provisioning_core.operations import servers as ops

    engine = engine_for()
    rows, warnings = ops.list_servers(engine, provider=provider, include_deleted=include_deleted)
    for warning in warnings:
        say(f"warning: {warning}")
    emit(
        rows,
        output,
        key="servers",
        columns=[
            "provider",
            "id",
            "hostname",
            "status",
            "where",
            "plan",
            "zone",
            "ip_addresses",
            "note",
        ],
        empty="no servers",
    )
    if warnings and not allow_partial:
        say(
            f"error: the list is partial: {len(warnings)} provider(s) did not answer, and "
            "their servers are shown from the inventory alone\n"
            "  hint: try again later, or pass --allow-partial to accept a partial list"
        )
        raise SystemExit(1)


def _catalog_command(name: str, summary: str, columns: list[str]) -> click.Command:
    @provider_option(required=True, help_text="The provider to ask.")
    @output_option
    def command(provider: str, output: str | None) -> None:
        from provisioning_core.operations import servers as ops

        engine = engine_for()
        emit(getattr(ops, name)(engine, provider), output, key=name, columns=columns)

    command.__doc__ = summary
    return server.command(name)(command)


plans = _catalog_command(
    "plans",
    "List the server plans a provider offers.",
    ["name", "cores", "memory_mb", "storage_gb"],
)
zones = _catalog_command("zones", "List the zones a provider offers.", ["name", "description"])
pricing = _catalog_command(
    "pricing", "Show what a provider's plans cost per hour.", ["plan", "zone", "hourly", "currency"]
)


@server.command("ssh", context_settings={"ignore_unknown_options": True})
@click.argument("server", metavar="SERVER", shell_complete=_complete_server)
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@provider_option()
@click.option(
    "--print", "print_only", is_flag=True, help="Print the ssh command line instead of running it."
)
def ssh(server: str, command: tuple[str, ...], provider: str | None, print_only: bool) -> None:
    """Open an SSH session to SERVER, or run COMMAND there (after --)."""
    import shlex
    import shutil
    import subprocess
    import sys

    from provisioning_core.errors import ProvisioningError
    from provisioning_core.operations import servers as ops

    engine = engine_for()
    argv = ops.ssh_command(engine, server, command, provider=provider)
    if print_only:
        click.echo(shlex.join(argv))
        return
    if shutil.which(argv[0]) is None and command:
        # no OpenSSH client here: the core's own client can still run a command
        status, out, err = ops.run_over_ssh(engine, server, command, provider=provider)
        sys.stdout.buffer.write(out)
        sys.stdout.flush()
        sys.stderr.buffer.write(err)
        sys.stderr.flush()
        raise SystemExit(status)
    if shutil.which(argv[0]) is None:
        raise ProvisioningError(
            "no ssh client found on PATH",
            hint="install OpenSSH (e.g. apt-get install openssh-client), or use --print",
        )
    engine.close()
    raise SystemExit(subprocess.call(argv))  # noqa: S603 - the user's own ssh, argv not a shell


@server.command("firewall")
@click.argument("server", metavar="SERVER", shell_complete=_complete_server)
@click.option(
    "--rule",
    "rules",
    multiple=True,
    required=True,
    metavar="RULE",
    help="DIRECTION,PROTOCOL,PORT,ACTION[,SOURCE[,DESTINATION]]: e.g. in,tcp,22,accept,10.0.0.0/8 "
    "(PORT a number, a range 8000-8100, or * for all); repeatable; replaces every rule of the "
    "server.",
)
@provider_option()
@check_option
@output_option
def firewall(
    server: str, rules: tuple[str, ...], provider: str | None, check: bool, output: str | None
) -> None:
    """Replace the firewall rules of SERVER."""
    from provisioning_core.operations import servers as ops
    from provisioning_core.operations.inputs import parse_rule

    parsed = [parse_rule(r) for r in rules]
    engine = engine_for(check=check)
    report = ops.configure_firewall(engine, server, parsed, provider=provider)
    emit_report(report, output)
