"""What every command shares: options, building the engine, rendering, progress.

Output goes through :func:`emit` (data) and :func:`say` (messages on stderr);
both mask every secret the configuration holds, the last line of defence
behind the Secret type itself.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from provisioning_core.cli import WARNINGS_LOGGER

if TYPE_CHECKING:
    from provisioning_core.config import Config
    from provisioning_core.extensions import ExtensionManager
    from provisioning_core.operations import Engine, Report

__all__ = [
    "OUTPUTS",
    "Command",
    "Group",
    "Settings",
    "check_option",
    "emit",
    "emit_report",
    "engine_for",
    "extension_manager",
    "load_config_for",
    "output_format",
    "output_option",
    "parallelism_option",
    "provider_option",
    "say",
    "wait_option",
]

F = TypeVar("F", bound=Callable[..., Any])
OUTPUTS = ("table", "json", "yaml")

# secrets of the loaded configuration, masked in everything printed
_SECRETS: list[object] = []


class Settings:
    """The global options, kept on the click context (``ctx.obj``)."""

    def __init__(self, config_file: str | None, verbose: int, *, debug: bool) -> None:
        self.config_file = config_file
        self.verbose = verbose
        self.debug = debug
        self.config: Config | None = None


def _settings() -> Settings:
    ctx = click.get_current_context()
    obj = ctx.find_object(Settings)
    if obj is None:  # a command invoked on its own (tests of one group)
        obj = Settings(None, 0, debug=False)
        ctx.obj = obj
    return obj


# -- commands -----------------------------------------------------------------


class Command(click.Command):
    """A command that refuses text which is not UTF-8 before anything uses it.

    Python decodes argv bytes that are not UTF-8 as lone surrogates
    (``'\\udcff'``); such a name can be neither stored in the inventory nor
    printed, so it is a usage error naming the parameter, like any bad value.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rest = super().parse_args(ctx, args)
        for param in self.get_params(ctx):
            if not isinstance(param.type, click.types.StringParamType) or param.name is None:
                continue  # paths may be any bytes; UNPROCESSED belongs to another program
            value = ctx.params.get(param.name)
            for text in value if isinstance(value, (tuple, list)) else (value,):
                if isinstance(text, str) and not _is_utf8(text):
                    shown = text.encode(errors="surrogateescape").decode(errors="backslashreplace")
                    raise click.BadParameter(f"'{shown}' is not UTF-8 text", ctx=ctx, param=param)
        return rest


class Group(click.Group):
    """A group whose commands are :class:`Command` s."""

    command_class = Command


def _is_utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


# -- options ------------------------------------------------------------------


def output_option(f: F) -> F:
    """``-o/--output table|json|yaml``."""
    return click.option(
        "-o",
        "--output",
        type=click.Choice(OUTPUTS),
        default=None,
        help="Output format (default: table on a terminal, json otherwise).",
    )(f)


def check_option(f: F) -> F:
    """``--check``: change nothing, print the plan."""
    return click.option(
        "--check", is_flag=True, help="Change nothing anywhere; print what would be done."
    )(f)


def wait_option(f: F) -> F:
    """``--wait``: poll until the target state."""
    return click.option(
        "--wait",
        is_flag=True,
        help="Wait until the target state is reached (operations.wait_interval and "
        "operations.wait_timeout set the pace and the deadline).",
    )(f)


def parallelism_option(f: F) -> F:
    """``--parallelism N``."""
    return click.option(
        "--parallelism",
        type=click.IntRange(min=1),
        default=None,
        help="Most targets worked on at once (default: operations.parallelism, 10).",
    )(f)


def provider_option(*, required: bool = False, help_text: str | None = None) -> Callable[[F], F]:
    """``--provider P``."""
    return click.option(
        "--provider",
        "-p",
        required=required,
        metavar="NAME",
        shell_complete=_complete_provider,
        help=help_text
        or "The provider (needed only for servers prov did not create: the inventory "
        "remembers each server's provider).",
    )


def _complete_provider(_ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[str]:
    from provisioning_core.discovery import Discovery

    return [
        e.name
        for e in Discovery().all("provider")
        if e.status == "ok" and e.name.startswith(incomplete)
    ]


# -- engine -----------------------------------------------------------------------


def load_config_for(overrides: dict[str, Any] | None = None) -> Config:
    """The configuration, with ``--config`` and command-line overrides applied."""
    from provisioning_core.config import load_config

    settings = _settings()
    config = load_config(config_file=settings.config_file, overrides=overrides)
    settings.config = config
    _SECRETS[:] = config.secrets()
    _warn_short_secrets(config)
    from provisioning_core import paths
    from provisioning_core.errors import ConfigError

    try:  # every cache of this process lives in the configured cache_dir
        paths.use_extension_cache_dir(config.extensions.cache_dir)
    except ConfigError:
        paths.use_extension_cache_dir(None)  # reported by the command that needs it
    return config


_WARNED: set[str] = set()


def _warn_short_secrets(config: Config) -> None:
    """Once per process and setting: a secret too short to be masked in output."""
    from provisioning_core.secret import MIN_MASKED_LENGTH

    for where in config.short_secrets():
        if where not in _WARNED:
            _WARNED.add(where)
            say(
                f"warning: the secret at {where} is shorter than {MIN_MASKED_LENGTH} "
                "characters: prov cannot mask it in output without masking ordinary words, "
                "and it is easy to guess\n  hint: use a longer one (a provider's real API "
                "token or password usually is)"
            )


def extension_manager(*, tolerant: bool = False, strict: bool | None = None) -> ExtensionManager:
    """An :class:`ExtensionManager` honouring ``[orchestrator.extensions]``.

    ``tolerant``: a configuration that cannot be read is a warning and the
    defaults are used (``prov plugin list`` always works); otherwise it is
    the error.
    """
    from provisioning_core.errors import ConfigError
    from provisioning_core.extensions import ExtensionManager

    try:
        extensions = load_config_for().extensions
    except ConfigError as exc:
        if not tolerant:
            raise
        say(f"warning: {exc}\n  (the default extension settings are used)")
        return ExtensionManager(strict=strict)
    return ExtensionManager(
        auto_load=extensions.auto_load, cache_dir=extensions.cache_dir, strict=strict
    )


def engine_for(*, check: bool = False, parallelism: int | None = None) -> Engine:
    """An engine for this command; it is closed when the command ends.

    Warns about operations an earlier run left unfinished.
    """
    from provisioning_core.operations import Engine

    config = load_config_for()
    engine = Engine(
        config,
        check=check,
        parallelism=parallelism,
        reporter=_reporter(),
        command=" ".join(["prov", *sys.argv[1:]])
        if Path(sys.argv[0]).name in {"prov", "__main__.py"}
        else click.get_current_context().command_path,
    )
    click.get_current_context().call_on_close(engine.close)
    for op in engine.interrupted():
        where = f" on {op.provider}" if op.provider else ""
        server_id = op.details.get("server_id")
        say(
            f"warning: an earlier run was interrupted: {op.action} {op.target}{where} "
            f"(operation {op.id}, pid {op.pid}, started {op.started_at:%Y-%m-%d %H:%M:%S} UTC) "
            "never finished"
            + (f"; server id {server_id}" if server_id else "")
            + ".\n  hint: check what exists with prov server list"
            + (f" --provider {op.provider}" if op.provider else "")
            + f", then prov operations ack {op.id}"
        )
    return engine


def _reporter() -> Callable[[str, str], None]:
    verbose = _settings().verbose
    tty = sys.stderr.isatty()

    def report(target: str, message: str) -> None:
        if tty or verbose:
            say(f"{time.strftime('%H:%M:%S')} {target}: {message}")

    return report


# -- rendering ----------------------------------------------------------------------


def _mask(text: str) -> str:
    if not _SECRETS:
        return text
    from provisioning_core.secret import redact

    return redact(text, _SECRETS)


def say(message: str) -> None:
    """A message for the person at the terminal, on stderr, secrets masked."""
    click.echo(_mask(message), err=True)


def _plain(data: Any) -> Any:
    from provisioning_core.convert import unstructure

    return unstructure(data)


def output_format(output: str | None) -> str:
    """The format to print: ``output``, else table on a terminal and json otherwise."""
    return output or ("table" if sys.stdout.isatty() else "json")


def emit(
    data: Any,
    output: str | None,
    *,
    columns: Sequence[str] | None = None,
    key: str | None = None,
    empty: str = "nothing to show",
) -> None:
    """Print ``data`` (a record, or a list of records under ``key``) as table, JSON or YAML."""
    plain = _plain(data)
    fmt = output_format(output)
    if fmt == "json":
        click.echo(_mask(json.dumps({key: plain} if key else plain, indent=2, default=str)))
        return
    if fmt == "yaml":
        import yaml

        text = yaml.safe_dump({key: plain} if key else plain, sort_keys=False, allow_unicode=True)
        click.echo(_mask(text.rstrip("\n")))
        return
    rows = plain if isinstance(plain, list) else [plain]
    if not rows:
        click.echo(empty)
        return
    _table(rows, list(columns) if columns else list(rows[0]))


def _cell(value: Any) -> str:
    if value is None or value in ("", [], {}):
        return "-"
    if isinstance(value, list):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={_cell(v)}" for k, v in value.items())
    return str(value)


def _table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, highlight=False)
    for column in columns:
        table.add_column(column.upper().replace("_", " "), overflow="fold")
    for row in rows:
        table.add_row(*(_mask(_cell(row.get(c))) for c in columns))
    stream = sys.stdout
    console = Console(file=stream, width=None if stream.isatty() else 200, soft_wrap=False)
    console.print(table)


def emit_report(report: Report, output: str | None) -> None:
    """Print a report; errors and hints also go to stderr; exit 1 if anything failed."""
    fmt = output_format(output)
    if fmt != "table":
        from provisioning_core.operations.report import report_data

        emit(report_data(report), fmt)
    else:
        rows = [
            {
                "target": r.target,
                "result": r.outcome,
                "status": r.status,
                "detail": "\n".join(r.actions) if r.ok else (r.error or ""),
            }
            for r in report.results
        ]
        emit(rows, "table", columns=["target", "result", "status", "detail"])
        for line in _detail_lines(report.details):
            click.echo(_mask(line))
        if report.check:
            planned = sum(r.outcome == "planned" for r in report.results)
            click.echo(
                f"check mode: nothing was changed; {planned} of {len(report.results)} "
                f"target(s) would change ({report.operation})"
            )
    for r in report.results:
        if not r.ok:
            say(f"error: {r.target}: {r.error}" + (f"\n  hint: {r.hint}" if r.hint else ""))
    for warning in report.warnings:
        say(f"warning: {warning}")
    if report.interrupted:
        say(
            "interrupted: work in flight finished and was recorded; targets marked skipped "
            "were not started"
        )
    if report.exit_code:
        raise SystemExit(report.exit_code)


def _detail_lines(details: dict[str, Any]) -> list[str]:
    """A report's ``details`` in table mode, one line each."""
    lines = []
    for key, value in details.items():
        if key == "requirements_check" and isinstance(value, dict):
            required = value.get("required") or {}
            lines.append(
                f"requirements met: {required.get('min_nodes')} server(s) or more, each "
                f"cpu {required.get('cpu_per_node')}, memory {required.get('memory_per_node')}, "
                f"storage {required.get('storage_per_node')} ({required.get('from')})"
            )
            lines += [f"  {server}: {plan}" for server, plan in value.get("servers", {}).items()]
        elif key == "endpoints" and isinstance(value, dict):
            lines += [f"endpoint {c}: {', '.join(map(str, a))}" for c, a in value.items()]
        elif key == "skipped" and isinstance(value, dict):
            lines += [f"skipped {c}: {why}" for c, why in value.items()]
        elif key == "left" and value:
            lines.append(f"left (not removed): {', '.join(map(str, value))}")
    return lines


@contextmanager
def debug_logging(verbose: int, *, debug: bool = False) -> Iterator[None]:
    """``-v`` logs operations at info level, ``-vv`` at debug, on stderr, secrets masked.

    The libraries' warnings, which ``prov`` turns into debug records of
    ``provisioning.warnings`` (:func:`provisioning_core.cli.run`), show with
    ``-vv`` and with ``--debug``.
    """
    attached: list[tuple[logging.Logger, int, bool]] = []  # (logger, level, propagate)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_MaskingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    if verbose:
        attached.append(
            (
                logging.getLogger("provisioning"),
                logging.DEBUG if verbose > 1 else logging.INFO,
                True,
            )
        )
    if debug and verbose <= 1:
        # only the warnings: --debug alone does not log every hook call
        attached.append((logging.getLogger(WARNINGS_LOGGER), logging.DEBUG, False))
    saved = [(logger, logger.level, logger.propagate) for logger, _, _ in attached]
    for logger, level, propagate in attached:
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate  # a warning is printed once, by its own handler
    try:
        yield
    finally:
        for logger, level, propagate in saved:  # an in-process caller's next run starts clean
            logger.removeHandler(handler)
            logger.setLevel(level)
            logger.propagate = propagate


class _MaskingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return _mask(super().format(record))
